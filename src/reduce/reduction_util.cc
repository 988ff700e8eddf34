#include "reduce/reduction_util.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"

namespace lightvlm {

std::vector<double> AttentionReceived(const LayerAttention& attention,
                                      const std::vector<int64_t>& image_rows,
                                      QueryWeights weights) {
  const Tensor& p = attention.probabilities;  // [queries, heads, n]
  const int64_t groups = p.dim(0) * p.dim(1), n = p.dim(2);
  std::vector<double> received(image_rows.size(), 0.0);
  for (int64_t g = 0; g < groups; ++g) {
    const float* row = p.f32() + g * n;
    double scale = 1.0;
    if (weights == QueryWeights::kEqual) {
      double mass = 0;
      for (int64_t image_row : image_rows) mass += row[image_row];
      scale = mass > 0 ? 1.0 / mass : 0.0;
    }
    for (size_t i = 0; i < image_rows.size(); ++i) received[i] += scale * row[image_rows[i]];
  }
  for (double& value : received) value /= static_cast<double>(groups);
  return received;
}

std::vector<int64_t> TopIndices(const std::vector<double>& scores, int64_t count) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  count = std::clamp<int64_t>(count, 0, static_cast<int64_t>(order.size()));
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
  order.resize(count);
  std::sort(order.begin(), order.end());
  return order;
}

void KeepImageRows(DecoderTokens& tokens, const std::vector<int64_t>& image_rows,
                   const std::vector<int64_t>& kept) {
  std::vector<bool> drop(tokens.size(), false);
  for (int64_t row : image_rows) drop[row] = true;
  for (int64_t index : kept) drop[image_rows[index]] = false;
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < tokens.size(); ++row) {
    if (!drop[row]) rows.push_back(row);
  }
  tokens.Keep(rows);
}

void KeepMostAttended(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
                      const LayerAttention& attention, QueryWeights weights) {
  KeepImageRows(tokens, image_rows,
                TopIndices(AttentionReceived(attention, image_rows, weights), keep));
}

std::vector<int64_t> ShareByImageSize(int64_t total, const std::vector<ImageRun>& images) {
  int64_t all_tokens = 0;
  for (const ImageRun& run : images) all_tokens += run.size();
  std::vector<int64_t> share(images.size());
  std::vector<int64_t> remainder(images.size());
  int64_t given = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    share[i] = total * images[i].size() / all_tokens;
    remainder[i] = total * images[i].size() % all_tokens;
    given += share[i];
  }
  std::vector<size_t> order(images.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (int64_t i = 0; given < total; ++i, ++given) ++share[order[i]];
  return share;
}

int64_t FirstRowOf(const ImageRun& run, const DecoderTokens& tokens,
                   const std::vector<int64_t>& image_rows, const char* reducer) {
  const auto first = std::partition_point(image_rows.begin(), image_rows.end(), [&](int64_t row) {
    return tokens.token_index[row] < run.start;
  });
  const int64_t offset = first - image_rows.begin();
  const int64_t last = offset + run.size() - 1;
  Check(last < static_cast<int64_t>(image_rows.size()) &&
            tokens.token_index[image_rows[last]] == run.start + run.size() - 1,
        reducer, ": the image at token ", run.start, " is no longer whole at its stage");
  return offset;
}

void KeepChosenPerImage(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
                        const std::vector<ImageRun>& images, const char* reducer,
                        const ImageTokenChooser& choose) {
  const std::vector<int64_t> share = ShareByImageSize(keep, images);
  std::vector<int64_t> kept;
  for (size_t i = 0; i < images.size(); ++i) {
    const int64_t first = FirstRowOf(images[i], tokens, image_rows, reducer);
    for (int64_t index : choose(images[i], first, share[i])) kept.push_back(first + index);
  }
  KeepImageRows(tokens, image_rows, kept);
}

std::vector<std::vector<double>> UnitRows(const float* data, int64_t width,
                                          const std::vector<int64_t>& rows) {
  std::vector<std::vector<double>> unit(rows.size(), std::vector<double>(width));
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* row = data + rows[i] * width;
    double norm = 0;
    for (int64_t j = 0; j < width; ++j) norm += double(row[j]) * row[j];
    norm = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    for (int64_t j = 0; j < width; ++j) unit[i][j] = row[j] * norm;
  }
  return unit;
}

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (size_t j = 0; j < a.size(); ++j) sum += a[j] * b[j];
  return sum;
}

double AverageShare(const std::vector<ReductionStage>& plan, int64_t image_tokens,
                    int64_t num_layers) {
  double total = 0;
  int64_t live = image_tokens, layer = 0;
  for (const ReductionStage& stage : plan) {
    total += static_cast<double>(stage.layer - layer) * live;
    layer = stage.layer;
    live = stage.image_tokens;
  }
  total += static_cast<double>(num_layers - layer) * live;
  return total / (static_cast<double>(num_layers) * image_tokens);
}

namespace {

// Layer 0 has no earlier layer to score by, so a stage needs at least layers 0 and 1.
void CheckReducible(int64_t num_layers) {
  Check(num_layers >= 2, "image tokens can be reduced only in decoders of 2 or more layers, ",
        "this one has ", num_layers);
}

std::vector<ReductionStage> StagesForRatio(const std::vector<int64_t>& layers, double ratio,
                                           int64_t image_tokens) {
  std::vector<ReductionStage> plan;
  double fraction = 1.0;
  for (int64_t layer : layers) {
    fraction *= ratio;
    plan.push_back({layer, static_cast<int64_t>(std::llround(fraction * image_tokens))});
  }
  return plan;
}

}  // namespace

std::vector<int64_t> LayersAtDepths(const std::vector<double>& depth_fractions,
                                    int64_t num_layers) {
  CheckReducible(num_layers);
  std::vector<int64_t> layers;
  for (double fraction : depth_fractions) {
    const int64_t rounded = std::llround(fraction * static_cast<double>(num_layers));
    const int64_t layer = std::min(std::max<int64_t>(rounded, 1), num_layers - 1);
    if (layers.empty() || layer > layers.back()) layers.push_back(layer);
  }
  return layers;
}

std::vector<ReductionStage> GeometricPlan(std::vector<int64_t> layers, int64_t image_tokens,
                                          int64_t num_layers, const ReductionBudget& budget) {
  Check(!layers.empty(), "a reduction plan needs at least one stage");
  for (size_t i = 0; i < layers.size(); ++i) {
    Check(layers[i] >= 0 && layers[i] < num_layers && (i == 0 || layers[i] > layers[i - 1]),
          "reduction stages must sit at ascending layers in 0..", num_layers - 1);
  }
  if (budget.final_tokens >= 0) {
    const double ratio = std::pow(static_cast<double>(budget.final_tokens) / image_tokens,
                                  1.0 / static_cast<double>(layers.size()));
    auto plan = StagesForRatio(layers, ratio, image_tokens);
    plan.back().image_tokens = budget.final_tokens;
    return plan;
  }
  if (budget.keep >= 1.0) return {};
  // Layers before the first stage always see every image token; move the stages up together
  // until the budget becomes reachable, down to layer 0 (scored by a probe of layer 0).
  const auto reachable = [&] {
    return static_cast<double>(layers.front()) / num_layers <= budget.keep;
  };
  while (!reachable() && layers.front() > 0) {
    for (int64_t& layer : layers) layer = std::max<int64_t>(0, layer - 1);
    layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  }
  // The average share grows with the ratio: bisect.
  double low = 0.0, high = 1.0;
  for (int i = 0; i < 60; ++i) {
    const double mid = (low + high) / 2;
    const double share =
        AverageShare(StagesForRatio(layers, mid, image_tokens), image_tokens, num_layers);
    (share <= budget.keep ? low : high) = mid;
  }
  return StagesForRatio(layers, low, image_tokens);
}

std::vector<ReductionStage> SingleStagePlan(int64_t layer, int64_t image_tokens, int64_t num_layers,
                                            const ReductionBudget& budget) {
  Check(layer >= 1, "the pruning layer K (fastv_layer) must be at least 1, got ", layer);
  CheckReducible(num_layers);
  // With one stage the geometric ratio is R itself, and the bisection solves
  // keep * L = K + (L - K) * R in whole tokens.
  return GeometricPlan({std::min(layer, num_layers - 1)}, image_tokens, num_layers, budget);
}

}  // namespace lightvlm
