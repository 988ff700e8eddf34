// LightVLM, encoding half: pyramid token merging in prefill (docs/ALGORITHM.md).
//
//   stages   k stages [4] at depth fractions 1/2^(k-1), ..., 1/4, 1/2, 3/4 of the layers
//            ([1/8, 1/4, 1/2, 3/4] by default); each keeps the same fraction r of the image
//            tokens live before it, r chosen so the average share over all layers meets --keep
//            (or so the last stage leaves --final-tokens).
//   score    attention each live image token receives from the question span (the prompt's text
//            after its last image, at most its last 32 tokens) [--query-tokens question], each
//            row's and head's probabilities over the image tokens normalized and averaged
//            [--query-weights equal], at the layer before the stage.
//   select   the top-scored image tokens are kept (the dominant tokens), in their original order.
//   merge    every other image token is merged into the kept token whose key (before RoPE, at
//            the scoring layer) is most similar by cosine: the kept token's hidden state becomes
//            the attention-weighted mean of itself and the tokens merged into it.
// Text tokens are never touched; kept tokens keep their positions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

// The layers whose attention reads the image most broadly, as FastV found (its K = 2): the
// pyramid starts after them whenever the budget can keep them whole.
constexpr int64_t kBroadLayers = 2;

std::vector<int64_t> StageLayers(int64_t stages, int64_t num_layers) {
  Check(stages >= 1, "--stages must be at least 1, got ", stages);
  std::vector<double> fractions;
  for (int64_t i = stages - 1; i >= 1; --i) {
    fractions.push_back(std::ldexp(1.0, -static_cast<int>(i)));
  }
  fractions.push_back(stages == 1 ? 0.5 : 0.75);
  return LayersAtDepths(fractions, num_layers);
}

class LightVlmMerge : public TokenReducer {
 public:
  explicit LightVlmMerge(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    std::vector<int64_t> layers = StageLayers(options().stages, num_layers);
    const ReductionBudget& budget = options().budget;
    const int64_t broad = std::min(kBroadLayers, num_layers - 1);
    // On shallow models the depth fractions put the first stage inside the broad layers; move
    // such stages after them when the budget allows (keep >= broad / L), else leave the plan.
    if (budget.final_tokens < 0 && layers.front() < broad &&
        static_cast<double>(broad) / static_cast<double>(num_layers) <= budget.keep) {
      for (int64_t& layer : layers) layer = std::max(layer, broad);
      layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
    }
    return GeometricPlan(std::move(layers), image_tokens, num_layers, budget);
  }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* attention) override {
    const std::vector<double> weight =
        AttentionReceived(*attention, image_rows, options().query_weights);
    const std::vector<int64_t> kept = TopIndices(weight, keep);
    if (kept.empty()) return KeepImageRows(tokens, image_rows, kept);  // nothing to merge into
    const std::vector<int64_t> group = NearestKept(*attention, image_rows, kept);
    MergeGroups(tokens, image_rows, kept, group, weight);
    KeepImageRows(tokens, image_rows, kept);
  }

 private:
  // For each image token, the position in `kept` of the kept token it joins (itself if kept).
  static std::vector<int64_t> NearestKept(const LayerAttention& attention,
                                          const std::vector<int64_t>& image_rows,
                                          const std::vector<int64_t>& kept) {
    const auto unit = UnitRows(attention.keys.f32(), attention.keys.dim(1), image_rows);
    std::vector<int64_t> group(image_rows.size(), -1);
    for (size_t k = 0; k < kept.size(); ++k) group[kept[k]] = static_cast<int64_t>(k);
    for (size_t i = 0; i < image_rows.size(); ++i) {
      if (group[i] >= 0) continue;
      double best = -2.0;
      for (size_t k = 0; k < kept.size(); ++k) {
        const double similarity = Dot(unit[i], unit[kept[k]]);
        if (similarity > best) {
          best = similarity;
          group[i] = static_cast<int64_t>(k);
        }
      }
    }
    return group;
  }

  // Replaces each kept token's hidden state by the weighted mean over its group.
  static void MergeGroups(DecoderTokens& tokens, const std::vector<int64_t>& image_rows,
                          const std::vector<int64_t>& kept, const std::vector<int64_t>& group,
                          const std::vector<double>& weight) {
    const int64_t width = tokens.hidden.dim(1);
    std::vector<double> sum(kept.size() * width, 0.0), total(kept.size(), 0.0);
    for (size_t i = 0; i < image_rows.size(); ++i) {
      const float* h = tokens.hidden.f32() + image_rows[i] * width;
      double* acc = sum.data() + group[i] * width;
      for (int64_t j = 0; j < width; ++j) acc[j] += weight[i] * h[j];
      total[group[i]] += weight[i];
    }
    for (size_t k = 0; k < kept.size(); ++k) {
      if (total[k] <= 0) continue;  // all weights vanished: keep the token as it is
      float* h = tokens.hidden.f32() + image_rows[kept[k]] * width;
      for (int64_t j = 0; j < width; ++j) h[j] = static_cast<float>(sum[k * width + j] / total[k]);
    }
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeLightVlmMerge(const ReducerOptions& options) {
  return std::make_unique<LightVlmMerge>(options);
}

}  // namespace lightvlm
