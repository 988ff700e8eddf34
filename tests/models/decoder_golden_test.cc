// The decoder against logits recorded from transformers (LlamaForCausalLM, Qwen2ForCausalLM) on
// tiny random-weight checkpoints saved with save_pretrained: every prompt position must agree.
#include <gtest/gtest.h>

#include <cmath>

#include "io/json_file.h"
#include "models/decoder.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

class DecoderGoldenTest : public ::testing::TestWithParam<std::string> {};

// The logits [rows, vocab_size] of the last `rows` positions of the golden prompt "input_ids",
// run at once through the decoder of `golden`'s model with its matrices in `weight_dtype`.
std::vector<float> PromptLogits(const testing::Golden& golden, int64_t rows,
                                DType weight_dtype = DType::kF32) {
  const LlmConfig config =
      ReadLlmConfig(JsonFile::Load((golden.model_dir() / "config.json").string()));
  const Decoder decoder(config, Checkpoint::Open(golden.model_dir().string()), {}, weight_dtype);
  const std::vector<int32_t> ids = golden.Ids("input_ids");
  const auto n = static_cast<int64_t>(ids.size());
  ThreadPool pool(2);
  KvCache cache = decoder.NewCache(n);
  DecoderTokens tokens;
  tokens.hidden = Tensor(DType::kF32, {n, config.hidden_size});
  decoder.Embed(ids, tokens.hidden.f32());
  for (int64_t i = 0; i < n; ++i) {
    tokens.token_index.push_back(i);
    tokens.position.push_back(PositionId::Sequential(i));
  }
  decoder.Forward(pool, tokens, cache);
  std::vector<float> logits(rows * config.vocab_size);
  decoder.Logits(pool, tokens.hidden.f32() + (n - rows) * config.hidden_size, rows, logits.data());
  return logits;
}

TEST_P(DecoderGoldenTest, PromptLogitsMatchTransformers) {
  const testing::Golden golden(GetParam());
  const auto n = static_cast<int64_t>(golden.Ids("input_ids").size());
  const std::vector<float> logits = PromptLogits(golden, n);
  const auto vocab_size = static_cast<int64_t>(logits.size()) / n;

  const std::vector<float> expected = golden.Floats("logits_all");
  ASSERT_EQ(expected.size(), logits.size());
  EXPECT_LT(testing::MaxAbsDifference(logits.data(), expected.data(), logits.size()), 1e-3);
  const std::vector<float> last = golden.Floats("logits_last");
  EXPECT_LT(
      testing::MaxAbsDifference(logits.data() + (n - 1) * vocab_size, last.data(), last.size()),
      1e-3);
}

// With bf16 weights (and activations rounded to bf16 in each product) the logits move by about
// bf16's precision relative to their spread; greedy agreement is not expected of a random model.
TEST_P(DecoderGoldenTest, Bf16WeightsStayCloseToTransformers) {
  const testing::Golden golden(GetParam());
  const std::vector<float> logits = PromptLogits(golden, 1, DType::kBF16);
  const std::vector<float> expected = golden.Floats("logits_last");
  double spread = 0;
  for (float value : expected) spread = std::max(spread, double(std::abs(value)));
  const double error = testing::MaxAbsDifference(logits.data(), expected.data(), expected.size());
  EXPECT_LT(error, 0.05 * spread) << "spread " << spread;
  EXPECT_GT(error, 0.0) << "bf16 weights should not reproduce float32 exactly";
}

// int8 weights (one scale per output channel) on the random-weight fixtures: the logits of every
// prompt position within 4% of the float32 engine's, relative to their norm, and no logit off by
// more than 8% of the largest (measured up to 6.4%). These random 2-layer models measure 2.6-2.9%,
// above issue 7's 2% bar, with per-channel and with per-group scales down to 16 columns alike;
// the bar is held on real trained weights (tests/engine/int8_weights_test.cc: 1.0%).
TEST_P(DecoderGoldenTest, Int8WeightsStayCloseToFloat32) {
  const testing::Golden golden(GetParam());
  const auto n = static_cast<int64_t>(golden.Ids("input_ids").size());
  const std::vector<float> f32 = PromptLogits(golden, n);
  const std::vector<float> int8 = PromptLogits(golden, n, DType::kI8);
  double difference = 0, norm = 0, spread = 0;
  for (size_t i = 0; i < f32.size(); ++i) {
    difference += (int8[i] - f32[i]) * double(int8[i] - f32[i]);
    norm += f32[i] * double(f32[i]);
    spread = std::max(spread, double(std::abs(f32[i])));
  }
  EXPECT_LT(std::sqrt(difference / norm), 0.04);
  const double error = testing::MaxAbsDifference(int8.data(), f32.data(), f32.size());
  EXPECT_LT(error, 0.08 * spread) << "spread " << spread;
  EXPECT_GT(error, 0.0) << "int8 weights should not reproduce float32 exactly";
}

INSTANTIATE_TEST_SUITE_P(Families, DecoderGoldenTest,
                         ::testing::Values("llama", "llama/llama3", "qwen2"), [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '/', '_');
                           return name;
                         });

}  // namespace
}  // namespace lightvlm
