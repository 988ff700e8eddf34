// PyramidDrop (Xing et al., "PyramidDrop: Accelerating Your Large Vision-Language Models via
// Pyramid Visual Redundancy Reduction", CVPR 2025; code: github.com/Cooperx521/PyramidDrop), as a
// baseline on the same budget (docs/ALGORITHM.md).
//
//   stages  at 1/4, 1/2 and 3/4 of the depth (PDrop's layers 8, 16, 24 of LLaVA-1.5's 32),
//           rounded, at least layer 1, duplicates on shallow models dropped.
//   score   attention each live image token receives at the layer before the stage from the
//           scoring rows, as every reducer scores [the question span, equal votes]; PDrop's own
//           rule, the last instruction token averaged over heads, is --query-tokens 1
//           --query-weights mass.
//   select  each stage keeps the same fraction lambda of the image tokens live before it, the
//           top-scored in their order; the rest are dropped, no merging. PDrop's default is
//           lambda = 0.5; here lambda comes from the budget (GeometricPlan on these layers) so
//           methods compare at equal compute. --keep 0.46875 (15/32) on a 32-layer LLM is
//           PDrop's own lambda = 0.5.
#include <vector>

#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

class PyramidDrop : public TokenReducer {
 public:
  explicit PyramidDrop(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return GeometricPlan(LayersAtDepths({0.25, 0.5, 0.75}, num_layers), image_tokens, num_layers,
                         options().budget);
  }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* attention) override {
    KeepMostAttended(tokens, image_rows, keep, *attention, options().query_weights);
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakePyramidDrop(const ReducerOptions& options) {
  return std::make_unique<PyramidDrop>(options);
}

}  // namespace lightvlm
