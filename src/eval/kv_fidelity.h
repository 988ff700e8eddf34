// Fidelity of KV cache policies on real weights: for text prompts, each policy's greedy answers
// against the full cache's, as the share of tokens identical position by position, and the
// perplexity the full-cache model assigns to the policy's text (how natural the model finds it).
// The prompts are decoded together, one session each, in batched steps.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/model.h"
#include "reduce/kv_policy.h"

namespace lightvlm {

struct KvFidelityRow {
  std::string policy;
  int64_t budget = 0;     // per layer, as resolved at the end (0 for none)
  double agreement = 1;   // share of generated tokens equal to the full cache's, over all prompts
  double perplexity = 0;  // of the policy's tokens under the full-cache model, mean over prompts
  size_t peak_kv_bytes = 0;          // the largest of the prompts' caches
  std::vector<double> agreements;    // per prompt
  std::vector<double> perplexities;  // per prompt
  std::vector<std::string> texts;    // per prompt
};

// `none` first, then each of `policies`, `tokens` greedy tokens after each prompt (stop tokens
// ignored).
std::vector<KvFidelityRow> MeasureKvFidelity(const Model& model, ThreadPool& pool,
                                             std::span<const std::vector<int32_t>> prompts,
                                             const std::vector<std::string>& policies,
                                             const KvPolicyOptions& options, int64_t tokens);

}  // namespace lightvlm
