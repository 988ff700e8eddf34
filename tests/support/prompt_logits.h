// The logits of every position of a prompt, and their difference from another run's, for the
// tests that hold quantised weights to float32's (engine/quantized_weights_test.cc,
// engine/gguf_smollm2_model_test.cc).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "engine/model.h"

namespace lightvlm::testing {

// The logits [ids.size(), vocab_size] of every position of the prompt `ids`.
inline std::vector<float> PromptLogits(const Model& model, const std::vector<int32_t>& ids) {
  const auto n = static_cast<int64_t>(ids.size());
  const LlmConfig& config = model.config();
  ThreadPool pool(2);
  KvCache cache = model.decoder().NewCache(n);
  DecoderTokens tokens;
  tokens.hidden = Tensor(DType::kF32, {n, config.hidden_size});
  model.decoder().Embed(ids, tokens.hidden.f32());
  for (int64_t i = 0; i < n; ++i) {
    tokens.token_index.push_back(i);
    tokens.position.push_back(PositionId::Sequential(i));
  }
  model.decoder().Forward(pool, tokens, cache);
  std::vector<float> logits(n * config.vocab_size);
  model.decoder().Logits(pool, tokens.hidden.f32(), n, logits.data());
  return logits;
}

// ||got - reference|| / ||reference|| over all the values.
inline double NormRelativeDifference(const std::vector<float>& got,
                                     const std::vector<float>& reference) {
  EXPECT_EQ(got.size(), reference.size());
  double difference = 0, norm = 0;
  for (size_t i = 0; i < reference.size() && i < got.size(); ++i) {
    difference += (got[i] - reference[i]) * double(got[i] - reference[i]);
    norm += reference[i] * double(reference[i]);
  }
  return std::sqrt(difference / norm);
}

}  // namespace lightvlm::testing
