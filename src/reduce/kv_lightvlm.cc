// LightVLM's decoding half, as this project defines it (../shared/DESIGN.md rule 5): after
// prefill and every 16 decode steps, each layer over its budget keeps 4 attention sinks, the 64
// most recent entries, and the entries with the highest attention accumulated since the prompt
// (the prompt's last token, then every decode token), up to a budget of the prompt's text tokens
// + the image tokens left by prefill merging + 256. Image entries that merging removed from deep
// layers are not in those layers' caches, and eviction only ever removes, so they stay removed.
#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

constexpr int64_t kSinks = 4;              // StreamingLLM's finding: 4 initial tokens suffice
constexpr int64_t kWindow = 64;            // local context the next tokens attend to most
constexpr int64_t kInterval = 16;          // evict in batches: selection is paid once per 16 steps
constexpr int64_t kAnswerAllowance = 256;  // room for the answer's own heavy hitters

class LightVlmKv : public KvPolicy {
 public:
  explicit LightVlmKv(const KvPolicyOptions& options) : KvPolicy(options) {}

 protected:
  int64_t DefaultBudget(const KvPrompt& prompt, int64_t /*length*/) const override {
    return prompt.text_tokens + prompt.final_image_tokens + kAnswerAllowance;
  }
  int64_t DefaultSinks() const override { return kSinks; }
  int64_t DefaultWindow(int64_t /*budget*/) const override { return kWindow; }
  int64_t DefaultInterval() const override { return kInterval; }
  // The last prompt token (the end of the instruction, as in prefill merging), then each step.
  int64_t PrefillScoreRows() const override { return 1; }
  bool ScoresDecode() const override { return true; }
};

}  // namespace

std::unique_ptr<KvPolicy> MakeLightVlmKv(const KvPolicyOptions& options) {
  return std::make_unique<LightVlmKv>(options);
}

}  // namespace lightvlm
