#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.h"

namespace lightvlm {
int32_t GreedyToken(std::span<const float> logits) {
  // The first maximum wins, as torch.argmax does.
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

void ValidateSamplingOptions(const SamplingOptions& options) {
  Check(std::isfinite(options.temperature) && options.temperature >= 0,
        "temperature must be >= 0, got ", options.temperature);
  Check(options.top_k >= 0, "top-k must be >= 0, got ", options.top_k);
  Check(options.top_p > 0 && options.top_p <= 1, "top-p must be in (0, 1], got ", options.top_p);
}

Sampler::Sampler(const SamplingOptions& options) : options_(options), random_(options.seed) {
  ValidateSamplingOptions(options);
}

int32_t Sampler::Sample(std::span<const float> logits) {
  Check(!logits.empty(), "cannot sample from empty logits");
  // A NaN compares false with everything: greedy would pick an arbitrary token and sampling would
  // read before its candidates. An infinity makes the softmax NaN. Either means the model broke.
  const auto bad =
      std::find_if(logits.begin(), logits.end(), [](float logit) { return !std::isfinite(logit); });
  if (bad != logits.end()) {
    Fail("the logit of token ", bad - logits.begin(), " is ",
         std::isnan(*bad) ? "NaN" : (*bad > 0 ? "+infinity" : "-infinity"),
         ": the model's weights or activations are not finite");
  }
  if (options_.temperature == 0.0f) return GreedyToken(logits);

  const auto vocab = static_cast<int64_t>(logits.size());
  const int64_t keep = options_.top_k > 0 ? std::min(options_.top_k, vocab) : vocab;
  candidates_.resize(vocab);
  std::iota(candidates_.begin(), candidates_.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) { return logits[a] > logits[b]; };
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  candidates_.resize(keep);

  // Softmax of logits / temperature over the candidates, computed in double.
  const double top = logits[candidates_.front()];
  probabilities_.resize(keep);
  double total = 0;
  for (int64_t i = 0; i < keep; ++i) {
    probabilities_[i] = std::exp((logits[candidates_[i]] - top) / options_.temperature);
    total += probabilities_[i];
  }
  // Nucleus: the smallest prefix (by probability) whose mass reaches top_p.
  int64_t nucleus = 0;
  double mass = 0;
  while (nucleus < keep && mass < options_.top_p * total) mass += probabilities_[nucleus++];
  std::uniform_real_distribution<double> uniform(0.0, mass);
  double target = uniform(random_);
  for (int64_t i = 0; i < nucleus; ++i) {
    target -= probabilities_[i];
    if (target < 0) return candidates_[i];
  }
  return candidates_[nucleus - 1];
}

}  // namespace lightvlm
