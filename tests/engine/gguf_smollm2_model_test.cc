// The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched by scripts/get_models.sh; these tests skip
// without it) run by lightvlm against llama.cpp itself: tools/llama_cpp_reference.sh recorded
// llama.cpp's prompt token ids and greedy continuations in
// tests/fixtures/smollm2/llama_cpp_reference.json. llama.cpp computes with the Q4_1 weights, 8-bit
// quantized activations and an f16 KV cache, lightvlm with the weights dequantized to float32, so
// the logits differ: a continuation may part from llama.cpp's only at a step where llama.cpp's
// own top-two margin is within its arithmetic's error. The exact check is against transformers'
// LlamaForCausalLM run in float32 on the same dequantized weights
// (tools/make_smollm2_f32_reference.py, transformers_f32_reference.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "engine/session.h"
#include "support/golden.h"
#include "support/prompt_logits.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using nlohmann::json;

const std::filesystem::path kSmolLm2 = std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "models" /
                                       "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
// llama.cpp's top-1 minus top-2 logit below this is a near tie. Measured on these prompts (8
// steps each, llama.cpp's top 5): llama.cpp's margins differ from exact float32 ones by up to
// 0.55 (median 0.085), so a smaller bound would fail on llama.cpp's rounding, not lightvlm's.
constexpr float kLlamaCppNearTie = 0.6f;
// The same for float32 transformers, whose logits lightvlm's match to ~1e-4.
constexpr float kFloat32NearTie = 1e-3f;
constexpr size_t kMinSteps = 16;

// `steps` greedy tokens after `prompt` (no stop tokens: as many as llama.cpp recorded).
std::vector<int32_t> Greedy(const Model& model, const std::vector<int32_t>& prompt, size_t steps) {
  ThreadPool pool(2);
  Session session(model.decoder(), pool, static_cast<int64_t>(prompt.size() + steps));
  std::vector<float> logits = session.Prefill(std::span<const int32_t>(prompt));
  std::vector<int32_t> tokens;
  while (tokens.size() < steps) {
    tokens.push_back(
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    if (tokens.size() < steps) logits = session.Decode(tokens.back());
  }
  return tokens;
}

class SmolLm2ModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kSmolLm2)) return;
    model_ = std::make_unique<Model>(LoadModel(kSmolLm2.string(), DType::kF32));
  }
  static void TearDownTestSuite() { model_.reset(); }

  void SetUp() override {
    if (!std::filesystem::exists(kSmolLm2)) {
      GTEST_SKIP() << kSmolLm2.string() << " is absent: run scripts/get_models.sh to fetch it";
    }
    reference_ = Fixture("llama_cpp_reference.json");
    float32_reference_ = Fixture("transformers_f32_reference.json");
    ASSERT_EQ(reference_.at("prompts").size(), 8u);
  }

  static json Fixture(const std::string& name) {
    return json::parse(std::ifstream(testing::kFixturesDir / "smollm2" / name));
  }

  // Greedy continuations of every prompt of `reference` equal its own, but for a divergence at a
  // step where the reference's top-two margin is below `near_tie` (after which the texts differ
  // and nothing more is compared).
  void ExpectGreedyAsIn(const json& reference, float near_tie) const {
    for (const json& prompt : reference.at("prompts")) {
      const std::string text = prompt.at("text").get<std::string>();
      const std::vector<int32_t> expected = Ids(prompt, "greedy_ids");
      const auto margins = prompt.at("top2_margins").get<std::vector<float>>();
      ASSERT_GE(expected.size(), kMinSteps);
      const std::vector<int32_t> got = Greedy(*model_, Ids(prompt, "prompt_ids"), expected.size());
      const size_t diverged =
          std::mismatch(got.begin(), got.end(), expected.begin()).first - got.begin();
      if (diverged == got.size()) continue;
      EXPECT_LT(margins[diverged], near_tie)
          << "\"" << text << "\": step " << diverged << " gives " << got[diverged]
          << " where the reference gives " << expected[diverged] << " by a margin of "
          << margins[diverged];
      std::cout << "near tie: \"" << text << "\" parts from the reference at step " << diverged
                << " (its margin there " << margins[diverged] << ")\n";
    }
  }

  static std::vector<int32_t> Ids(const json& prompt, const char* key) {
    return prompt.at(key).get<std::vector<int32_t>>();
  }

  static std::unique_ptr<Model> model_;
  json reference_;
  json float32_reference_;
};

std::unique_ptr<Model> SmolLm2ModelTest::model_;

TEST_F(SmolLm2ModelTest, ConfigAndStopTokensComeFromTheMetadata) {
  const LlmConfig& config = model_->config();
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.num_layers, 30);
  EXPECT_EQ(config.hidden_size, 576);
  EXPECT_EQ(config.num_heads, 9);
  EXPECT_EQ(config.num_kv_heads, 3);
  EXPECT_EQ(config.vocab_size, 49152);
  EXPECT_TRUE(config.tie_word_embeddings);  // the file has no output.weight
  ASSERT_FALSE(model_->stop_token_ids.empty());
  EXPECT_EQ(model_->tokenizer->TokenText(model_->stop_token_ids.front()), "<|im_end|>");
}

TEST_F(SmolLm2ModelTest, PromptIdsEqualLlamaCpps) {
  // Whether a BOS leads is the metadata's add_bos_token, for both: the ids show it.
  for (const json& prompt : reference_.at("prompts")) {
    const std::string text = prompt.at("text").get<std::string>();
    EXPECT_EQ(model_->tokenizer->Encode(text, /*add_special=*/true), Ids(prompt, "prompt_ids"))
        << text;
  }
}

TEST_F(SmolLm2ModelTest, GreedyContinuationsEqualLlamaCppsInFloat32) {
  ExpectGreedyAsIn(reference_, kLlamaCppNearTie);
}

TEST_F(SmolLm2ModelTest, GreedyContinuationsAndLogitsEqualFloat32Transformers) {
  ExpectGreedyAsIn(float32_reference_, kFloat32NearTie);
  ThreadPool pool(2);
  for (const json& prompt : float32_reference_.at("prompts")) {
    Session session(model_->decoder(), pool, 64);
    const std::vector<float> logits =
        session.Prefill(std::span<const int32_t>(Ids(prompt, "prompt_ids")));
    for (const auto& [id, expected] : prompt.at("last_logits").items()) {
      EXPECT_NEAR(logits.at(std::stoul(id)), expected.get<double>(), 1e-3)
          << prompt.at("text").get<std::string>() << ", token " << id;
    }
  }
}

// bf16 and int8 weights: the first greedy tokens as in float32 (they are far from ties there).
TEST_F(SmolLm2ModelTest, Bf16AndInt8KeepTheFirstGreedyTokens) {
  for (DType dtype : {DType::kBF16, DType::kI8}) {
    const Model model = LoadModel(kSmolLm2.string(), dtype);
    for (size_t p : {0u, 4u}) {
      const json& prompt = reference_.at("prompts").at(p);
      const std::vector<int32_t> expected = Ids(prompt, "greedy_ids");
      const std::vector<int32_t> got = Greedy(model, Ids(prompt, "prompt_ids"), 4);
      EXPECT_EQ(got, std::vector<int32_t>(expected.begin(), expected.begin() + 4))
          << DTypeName(dtype) << ": " << prompt.at("text").get<std::string>();
    }
  }
}

// 4-bit weights (issue 19's bar): the prompt logits of every position within 3% of float32's,
// relative to their norm, on a prompt of 14 tokens (the prefill's bf16 tiles) and one of 5 (at
// most 8 rows: the decode kernel). The file's Q4_1 groups are 32 wide as ours, but asymmetric: our
// symmetric scales do not reproduce them.
TEST_F(SmolLm2ModelTest, Q4PromptLogitsWithinThreePercentOfFloat32) {
  const Model q4 = LoadModel(kSmolLm2.string(), DType::kQ4);
  for (size_t p : {6u, 0u}) {
    const std::vector<int32_t> prompt = Ids(reference_.at("prompts").at(p), "prompt_ids");
    const double relative = testing::NormRelativeDifference(testing::PromptLogits(q4, prompt),
                                                            testing::PromptLogits(*model_, prompt));
    std::cout << "SmolLM2-135M, q4 against f32, " << prompt.size() << " tokens: " << relative
              << "\n";
    EXPECT_LT(relative, 0.03) << prompt.size() << " tokens";
    EXPECT_GT(relative, 0.0) << "4-bit weights should not reproduce float32 exactly";
  }
}

// A copy of the real file with one tensor renamed: loading names the file and the tensor.
TEST_F(SmolLm2ModelTest, AMissingTensorNamesTheFileAndTheTensor) {
  std::string bytes = testing::ReadFile(kSmolLm2);
  const std::string name = "blk.3.ffn_up.weight";
  const size_t at = bytes.find(name);
  ASSERT_NE(at, std::string::npos);
  bytes[at + name.size() - 1] = 'X';  // same length, so every offset stays valid
  const std::string path = (testing::FreshTempDir() / "missing_tensor.gguf").string();
  testing::WriteFile(path, bytes);
  EXPECT_EQ(testing::ErrorOf([&] { LoadModel(path); }),
            path +
                ": tensor 'blk.3.ffn_up.weight' not found (the decoder's "
                "model.layers.3.mlp.up_proj.weight)");
}

}  // namespace
}  // namespace lightvlm
