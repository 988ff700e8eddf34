// StreamingLLM (Xiao et al., ICLR 2024; github.com/mit-han-lab/streaming-llm): keep the first 4
// entries (attention sinks) and a sliding window of the most recent ones, evicting at every step.
// Its code's defaults are start_size 4 and recent_size 2000, so the default budget is 2004; with
// --kv-budget B the window is B - 4. No attention is scored. Unlike its code, positions are not
// renumbered inside the cache (every policy here keeps original RoPE positions), and eviction
// runs every 16 steps, not at every step: the cache grows to budget + 16 and then drops 16
// entries at once, because evicting one entry from after the sinks shifts every later entry
// (O(live entries) copied per step made it slower than no eviction, docs/RESULTS.md).
// --kv-interval 1 restores per-step eviction.
#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

constexpr int64_t kStartSize = 4;
constexpr int64_t kRecentSize = 2000;
constexpr int64_t kInterval = 16;  // as lightvlm: one compaction pays for 16 steps

class StreamingLlm : public KvPolicy {
 public:
  explicit StreamingLlm(const KvPolicyOptions& options) : KvPolicy(options) {}

 protected:
  int64_t DefaultBudget(const KvPrompt& /*prompt*/, int64_t /*length*/) const override {
    return sinks() + (options().window >= 0 ? options().window : kRecentSize);
  }
  int64_t DefaultSinks() const override { return kStartSize; }
  int64_t DefaultWindow(int64_t budget) const override { return budget - sinks(); }
  int64_t DefaultInterval() const override { return kInterval; }
  int64_t PrefillScoreRows() const override { return 0; }
  bool ScoresDecode() const override { return false; }
};

}  // namespace

std::unique_ptr<KvPolicy> MakeStreamingLlm(const KvPolicyOptions& options) {
  return std::make_unique<StreamingLlm>(options);
}

}  // namespace lightvlm
