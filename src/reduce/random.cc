// Random pruning, the control every token-reduction paper reports: FastV with random scores
// (docs/ALGORITHM.md). No published code to follow; the rule is the simplest fair one.
//
//   stage   one, before layer K [fastv_layer = 2], with FastV's count rule (SingleStagePlan):
//           keep * L = K + (L - K) * R, or R = final_tokens / N; K moves earlier when needed.
//   select  a uniformly random subset of R of the image tokens, kept in their order; the rest
//           are dropped, no merging. No attention is recorded.
//   seed    [seed = 0] every prefill draws from a generator freshly seeded with it, so a prompt
//           gets the same subset whatever ran before it (std::mt19937_64 is the same stream on
//           every platform).
#include <random>
#include <vector>

#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

class RandomPrune : public TokenReducer {
 public:
  explicit RandomPrune(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return SingleStagePlan(options().fastv_layer, image_tokens, num_layers, options().budget);
  }

  bool NeedsAttention() const override { return false; }

  // The top `keep` of independent uniform scores is a uniformly random subset.
  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* /*attention*/) override {
    std::mt19937_64 generator(options().seed);
    std::vector<double> scores(image_rows.size());
    for (double& score : scores) score = static_cast<double>(generator() >> 11);  // 53 bits: exact
    KeepImageRows(tokens, image_rows, TopIndices(scores, keep));
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeRandomPrune(const ReducerOptions& options) {
  return std::make_unique<RandomPrune>(options);
}

}  // namespace lightvlm
