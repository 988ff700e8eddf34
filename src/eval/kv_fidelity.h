// Fidelity of KV cache policies on real weights: for a text prompt, each policy's greedy answer
// against the full cache's, as the share of tokens identical position by position, and the
// perplexity the full-cache model assigns to the policy's text (how natural the model finds it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model.h"
#include "reduce/kv_policy.h"

namespace lightvlm {

struct KvFidelityRow {
  std::string policy;
  int64_t budget = 0;     // per layer, as resolved at the end (0 for none)
  double agreement = 1;   // share of generated tokens equal to the full cache's
  double perplexity = 0;  // of the policy's tokens under the full-cache model
  size_t peak_kv_bytes = 0;
  std::string text;
};

// `none` first, then each of `policies`, `tokens` greedy tokens each (stop tokens ignored).
std::vector<KvFidelityRow> MeasureKvFidelity(const Model& model, ThreadPool& pool,
                                             const std::string& prompt,
                                             const std::vector<std::string>& policies,
                                             const KvPolicyOptions& options, int64_t tokens);

}  // namespace lightvlm
