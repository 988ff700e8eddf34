// H2O, the heavy-hitter oracle (Zhang et al., NeurIPS 2023; github.com/FMInference/H2O): keep the
// entries with the highest accumulated attention (heavy hitters) and the most recent ones, half
// of the budget each, evicting at every step. Its defaults are 10% heavy + 10% recent of the
// sequence, so without --kv-budget the budget follows the sequence: 20% of its tokens so far.
// Differences from its code: attention accumulates from the prompt's last token and every decode
// token, not from every prompt row (an n x n matrix), for the O(q * n) rule; and eviction runs
// every 16 steps, dropping 16 entries at once, not one per step (each eviction from the middle
// compacts every later entry; --kv-interval 1 restores per-step eviction).
#include <algorithm>

#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

class HeavyHitterOracle : public KvPolicy {
 public:
  explicit HeavyHitterOracle(const KvPolicyOptions& options) : KvPolicy(options) {}

 protected:
  int64_t DefaultBudget(const KvPrompt& /*prompt*/, int64_t length) const override {
    return std::max<int64_t>(2, length / 10 + length / 10);
  }
  int64_t DefaultSinks() const override { return 0; }
  int64_t DefaultWindow(int64_t budget) const override { return budget - budget / 2; }
  int64_t DefaultInterval() const override { return 16; }
  int64_t PrefillScoreRows() const override { return 1; }
  bool ScoresDecode() const override { return true; }
};

}  // namespace

std::unique_ptr<KvPolicy> MakeHeavyHitterOracle(const KvPolicyOptions& options) {
  return std::make_unique<HeavyHitterOracle>(options);
}

}  // namespace lightvlm
