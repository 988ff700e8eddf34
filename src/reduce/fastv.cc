// FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV 2024; code:
// github.com/pkunlp-icler/FastV), as a baseline on the same budget (docs/ALGORITHM.md).
//
//   stage   one, before layer K [fastv_layer = 2, FastV's default K]; lowered to L - 1 on
//           decoders of L <= K layers.
//   score   attention each image token receives at layer K - 1 from the scoring rows, as every
//           reducer scores [the question span, equal votes: docs/ALGORITHM.md]; FastV's own rule,
//           the last prompt token's probabilities averaged over heads, is --query-tokens 1
//           --query-weights mass.
//   select  the top R of the image tokens are kept in their order; the rest are dropped, no
//           merging. FastV's code fixes R = 50%; here R comes from the budget so methods compare
//           at equal compute: keep * L = K + (L - K) * R, or R = final_tokens / N. When
//           keep * L < K the stage moves earlier (to layer 1 at the least; below 1 / L it keeps
//           nothing there). --keep 0.53125 (17/32) on a 32-layer LLM is FastV's own K = 2, R = 50%.
#include <vector>

#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

class FastV : public TokenReducer {
 public:
  explicit FastV(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return SingleStagePlan(options().fastv_layer, image_tokens, num_layers, options().budget);
  }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* attention) override {
    KeepMostAttended(tokens, image_rows, keep, *attention, options().query_weights);
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeFastV(const ReducerOptions& options) {
  return std::make_unique<FastV>(options);
}

}  // namespace lightvlm
