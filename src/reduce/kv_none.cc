// No KV compression: the full cache. It scores nothing and never evicts (the budget knobs are
// ignored), so the engine's output is bit-identical to running without a policy; it is the
// reference the others are measured against.
#include <limits>

#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

class NoKvCompression : public KvPolicy {
 public:
  NoKvCompression() : KvPolicy(KvPolicyOptions{}) {}

 protected:
  int64_t DefaultBudget(const KvPrompt& /*prompt*/, int64_t /*length*/) const override {
    return std::numeric_limits<int64_t>::max();
  }
  int64_t DefaultSinks() const override { return 0; }
  int64_t DefaultWindow(int64_t /*budget*/) const override { return 1; }
  int64_t DefaultInterval() const override { return 0; }
  int64_t PrefillScoreRows() const override { return 0; }
  bool ScoresDecode() const override { return false; }
};

}  // namespace

std::unique_ptr<KvPolicy> MakeNoKvCompression(const KvPolicyOptions& /*options*/) {
  return std::make_unique<NoKvCompression>();
}

}  // namespace lightvlm
