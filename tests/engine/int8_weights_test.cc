// int8 weights on real trained weights (stories260k), issue 7's bar: the prompt logits of every
// position within 2% of the float32 engine's, relative to their norm (measured: 1.0%).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/model.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// The logits [tokens, vocab_size] of every position of `text`, weights in `dtype`.
std::vector<float> PromptLogits(const std::string& text, DType dtype) {
  const Model model = LoadModel(testing::kStoriesDir.string(), dtype);
  const std::vector<int32_t> ids = model.tokenizer->Encode(text, true);
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

TEST(Int8WeightsTest, PromptLogitsWithinTwoPercentOfFloat32) {
  const std::string text =
      "Once upon a time, there was a little girl named Lily. She loved to play outside.";
  const std::vector<float> f32 = PromptLogits(text, DType::kF32);
  const std::vector<float> int8 = PromptLogits(text, DType::kI8);
  ASSERT_EQ(f32.size(), int8.size());
  double difference = 0, norm = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    difference += (int8[i] - f32[i]) * double(int8[i] - f32[i]);
    norm += f32[i] * double(f32[i]);
  }
  const double relative = std::sqrt(difference / norm);
  EXPECT_LT(relative, 0.02);
  EXPECT_GT(relative, 0.0) << "int8 weights should not reproduce float32 exactly";
}

}  // namespace
}  // namespace lightvlm
