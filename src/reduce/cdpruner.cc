// CDPruner (Zhang et al., "Beyond Attention or Similarity: Maximizing Conditional Diversity for
// Token Pruning in MLLMs", NeurIPS 2025; code: github.com/Theia-4869/CDPruner), as a baseline on
// the same budget (docs/ALGORITHM.md).
//
//   stage     one, before layer 0 (before the LLM), keeping R = keep of the image tokens (the
//             average share is R itself), or R = final_tokens / N; shared over the images in
//             proportion to their sizes, each chosen on its own as CDPruner does per image.
//   relevance of image token i to the instruction: r_i = -mean_j cos(x_i, t_j) over the scoring
//             rows' embeddings t_j (the question span), min-max normalized over the image (the
//             sign as CDPruner's code and OpenVINO GenAI's port have it), then
//             r_i <- exp(theta / (2 (1 - theta)) r_i) [cdpruner_theta = 0.5]; theta = 1 leaves r.
//   kernel    L_ij = r_i cos(x_i, x_j) r_j over the image's embeddings x.
//   select    the greedy MAP of the DPP with kernel L (Chen et al., NeurIPS 2018): repeatedly the
//             token whose conditional gain d_j^2 is largest (the earlier token on ties), with
//             e = (L_j - sum_s c_s[j] c_s) / sqrt(d_j^2 + 1e-5), then d^2 -= e^2; kept in their
//             order, the rest dropped, no merging. Rows of L are computed as needed (O(R N d)).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

// CDPruner's relevance of each of `image` to the mean of `text` (both unit rows).
std::vector<double> Relevance(const std::vector<std::vector<double>>& image,
                              const std::vector<std::vector<double>>& text, double theta) {
  std::vector<double> relevance(image.size(), 0.0);
  for (size_t i = 0; i < image.size(); ++i) {
    for (const auto& t : text) relevance[i] -= Dot(image[i], t);
    relevance[i] /= static_cast<double>(text.size());
  }
  const auto [low, high] = std::minmax_element(relevance.begin(), relevance.end());
  const double min = *low, range = *high - *low + 1e-6;
  for (double& r : relevance) {
    r = (r - min) / range;
    if (theta < 1) r = std::exp(theta / (2 * (1 - theta)) * r);
  }
  return relevance;
}

// Indices (ascending) of the `count` tokens the greedy MAP inference of the DPP with kernel
// L_ij = q_i <x_i, x_j> q_j picks.
std::vector<int64_t> GreedyDppMap(const std::vector<std::vector<double>>& x,
                                  const std::vector<double>& quality, int64_t count) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<double> gain(n);  // d_j^2, the determinant's growth if j joins
  for (int64_t j = 0; j < n; ++j) gain[j] = quality[j] * Dot(x[j], x[j]) * quality[j];
  std::vector<std::vector<double>> directions;  // c_s over all tokens, one per pick
  std::vector<int64_t> picked;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t j = std::max_element(gain.begin(), gain.end()) - gain.begin();
    const double scale = 1.0 / std::sqrt(std::max(gain[j], 0.0) + 1e-5);
    std::vector<double> e(n);
    for (int64_t i = 0; i < n; ++i) {
      double value = quality[j] * Dot(x[j], x[i]) * quality[i];
      for (const auto& c : directions) value -= c[j] * c[i];
      e[i] = value * scale;
    }
    for (int64_t i = 0; i < n; ++i) gain[i] -= e[i] * e[i];
    gain[j] = -std::numeric_limits<double>::infinity();
    directions.push_back(std::move(e));
    picked.push_back(j);
  }
  std::sort(picked.begin(), picked.end());
  return picked;
}

class CdPruner : public TokenReducer {
 public:
  explicit CdPruner(const ReducerOptions& options) : TokenReducer(options) {
    Check(options.cdpruner_theta >= 0 && options.cdpruner_theta <= 1,
          "cdpruner: theta must be in [0, 1], got ", options.cdpruner_theta);
  }

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return GeometricPlan({0}, image_tokens, num_layers, options().budget);
  }

  bool ReducesBeforeTheLlmOnly() const override { return true; }
  bool NeedsAttention() const override { return false; }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* /*attention*/) override {
    const int64_t width = tokens.hidden.dim(1);
    const auto text = UnitRows(tokens.hidden.f32(), width, QueryRows(tokens));
    KeepChosenPerImage(tokens, image_rows, keep, images(), "cdpruner",
                       [&](const ImageRun& run, int64_t first, int64_t count) {
                         const std::vector<int64_t> rows(image_rows.begin() + first,
                                                         image_rows.begin() + first + run.size());
                         const auto x = UnitRows(tokens.hidden.f32(), width, rows);
                         return GreedyDppMap(x, Relevance(x, text, options().cdpruner_theta),
                                             count);
                       });
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeCdPruner(const ReducerOptions& options) {
  return std::make_unique<CdPruner>(options);
}

}  // namespace lightvlm
