// No reduction: the empty plan. The decoder then records no attention and every layer sees every
// token, so the engine's output is bit-identical to running without a reducer; it is the
// reference the other reducers are measured against (docs/ALGORITHM.md).
#include <vector>

#include "reduce/reducer_factories.h"

namespace lightvlm {
namespace {

class NoReduction : public TokenReducer {
 public:
  explicit NoReduction(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t /*image_tokens*/,
                                   int64_t /*num_layers*/) const override {
    return {};
  }

  bool NeedsAttention() const override { return false; }

  void Reduce(DecoderTokens& /*tokens*/, const std::vector<int64_t>& /*image_rows*/,
              int64_t /*keep*/, const LayerAttention* /*attention*/) override {}
};

}  // namespace

std::unique_ptr<TokenReducer> MakeNoReduction(const ReducerOptions& options) {
  return std::make_unique<NoReduction>(options);
}

}  // namespace lightvlm
