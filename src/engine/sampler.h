// Picks the next token from logits: greedy, or temperature sampling restricted by top-k and
// top-p, reproducible under a seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lightvlm {

struct SamplingOptions {
  float temperature = 0.0f;  // 0 means greedy
  int64_t top_k = 0;         // 0 means the whole vocabulary
  float top_p = 1.0f;        // nucleus: smallest set of tokens whose probability reaches top_p
  uint64_t seed = 0;
};

// Fails naming the option when a value is out of range.
void ValidateSamplingOptions(const SamplingOptions& options);

// The token of the largest logit (the first, on ties, as torch.argmax): greedy decoding.
int32_t GreedyToken(std::span<const float> logits);

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  // Fails when a logit is NaN or infinite, naming the token.
  int32_t Sample(std::span<const float> logits);

 private:
  SamplingOptions options_;
  std::mt19937_64 random_;
  std::vector<int32_t> candidates_;    // token ids, reused between calls
  std::vector<double> probabilities_;  // of candidates_, reused between calls
};

}  // namespace lightvlm
