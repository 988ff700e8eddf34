// SnapKV (Li et al., 2024; github.com/FasterDecoding/SnapKV): once, after the prompt's prefill,
// each layer over budget keeps its last 32 entries (the observation window) and the entries the
// window's 32 queries attend to most, summed over those queries, smoothed by an average pooling
// of width 5 (zero padding, as avg_pool1d); decode steps are never evicted. Defaults are its
// code's: window_size 32, kernel_size 5, max_capacity_prompt 2048 (the budget). Difference from
// its code: it selects per head; the cache here is shared by a layer's heads, so the score is
// averaged over heads.
#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

constexpr int64_t kWindowSize = 32;
constexpr int64_t kMaxCapacityPrompt = 2048;

class SnapKv : public KvPolicy {
 public:
  explicit SnapKv(const KvPolicyOptions& options) : KvPolicy(options) {}

 protected:
  int64_t DefaultBudget(const KvPrompt& /*prompt*/, int64_t /*length*/) const override {
    return kMaxCapacityPrompt;
  }
  int64_t DefaultSinks() const override { return 0; }
  int64_t DefaultWindow(int64_t /*budget*/) const override { return kWindowSize; }
  int64_t DefaultInterval() const override { return 0; }
  int64_t PrefillScoreRows() const override { return window(0); }
  bool ScoresDecode() const override { return false; }
  bool AccumulatesAcrossPrompts() const override { return false; }

  // Average pooling over the entries before the window (the window is kept anyway).
  std::vector<double> Ranking(std::span<const double> scores, int64_t window) const override {
    const auto prefix = std::max<int64_t>(0, static_cast<int64_t>(scores.size()) - window);
    const int64_t half = options().pool / 2;
    std::vector<double> pooled(scores.size(), 0.0);
    for (int64_t i = 0; i < prefix; ++i) {
      double sum = 0;
      for (int64_t j = std::max<int64_t>(0, i - half); j <= std::min(prefix - 1, i + half); ++j) {
        sum += scores[j];
      }
      pooled[i] = sum / static_cast<double>(options().pool);
    }
    return pooled;
  }
};

}  // namespace

std::unique_ptr<KvPolicy> MakeSnapKv(const KvPolicyOptions& options) {
  return std::make_unique<SnapKv>(options);
}

}  // namespace lightvlm
