// The real SmolLM2-135M-Instruct Q4_1 GGUF (llama.cpp's own conversion, 98 MB, fetched by
// scripts/get_models.sh; these tests skip without it) against what gguf-py reports for it,
// recorded by tools/make_gguf_fixtures.py in tests/fixtures/gguf/smollm2_reference.json.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/gguf_file.h"
#include "io/gguf_llm_params.h"
#include "io/gguf_tokenizer.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

using nlohmann::json;

const std::filesystem::path kSmolLm2 = std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "models" /
                                       "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";

class SmolLm2GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSmolLm2)) {
      GTEST_SKIP() << kSmolLm2.string() << " is absent: run scripts/get_models.sh to fetch it";
    }
    file_ = GgufFile::Open(kSmolLm2.string());
    reference_ =
        json::parse(std::ifstream(testing::kFixturesDir / "gguf" / "smollm2_reference.json"));
    ASSERT_EQ(std::filesystem::file_size(kSmolLm2), reference_.at("size").get<uint64_t>())
        << "not the file the reference was recorded from";
  }

  std::unique_ptr<GgufFile> file_;
  json reference_;
};

TEST_F(SmolLm2GgufTest, EveryTensorTypeAndShapeMatchGgufReader) {
  const json& tensors = reference_.at("tensors");
  ASSERT_EQ(file_->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& info = file_->tensors()[i];
    EXPECT_EQ(info.name, tensors[i].at("name").get<std::string>());
    EXPECT_EQ(GgufTypeOf(info.type).name, tensors[i].at("type").get<std::string>()) << info.name;
    EXPECT_EQ(info.dims, tensors[i].at("dims").get<std::vector<int64_t>>()) << info.name;
  }
}

TEST_F(SmolLm2GgufTest, DequantizedSamplesMatchGgufQuants) {
  for (const auto& [name, sample] : reference_.at("samples").items()) {
    const GgufTensorInfo& info = file_->TensorInfo(name);
    const Tensor values = file_->LoadF32(name, info.shape);
    const auto first = sample.at("first").get<std::vector<float>>();
    const auto last = sample.at("last").get<std::vector<float>>();
    const int64_t n = values.num_elements();
    ASSERT_GE(n, 64);
    // Bitwise, as in gguf_file_test.cc: the values are bit-identical to gguf.quants.
    EXPECT_EQ(std::memcmp(values.f32(), first.data(), 64 * sizeof(float)), 0) << name;
    EXPECT_EQ(std::memcmp(values.f32() + n - 64, last.data(), 64 * sizeof(float)), 0) << name;
  }
}

TEST_F(SmolLm2GgufTest, LlmParams) {
  const GgufLlmParams params = ReadGgufLlmParams(*file_);
  EXPECT_EQ(params.architecture, "llama");
  EXPECT_EQ(params.block_count, 30);
  EXPECT_EQ(params.context_length, 8192);
  EXPECT_EQ(params.embedding_length, 576);
  EXPECT_EQ(params.feed_forward_length, 1536);
  EXPECT_EQ(params.head_count, 9);
  EXPECT_EQ(params.head_count_kv, 3);
  EXPECT_EQ(params.head_dim, 64);
  EXPECT_EQ(params.rope_freq_base, 100000.0);
  EXPECT_FLOAT_EQ(params.rms_norm_eps, 1e-5);
  EXPECT_EQ(params.vocab_size, 49152);
}

// Ids from Hugging Face tokenizers built from this file's vocabulary and merges with the
// pre-tokenizer llama.cpp names "smollm" (see tools/make_gguf_fixtures.py for why that is the
// same tokenizer); not from llama.cpp itself.
TEST_F(SmolLm2GgufTest, TokenizesLikeTheReference) {
  const auto tokenizer = TokenizerFromGguf(*file_);
  const GgufSpecialTokens special = ReadGgufSpecialTokens(*file_);
  EXPECT_FALSE(special.add_bos);
  EXPECT_EQ(special.bos, 1);
  EXPECT_EQ(special.eos, 2);
  for (const json& item : reference_.at("tokenized")) {
    const std::string text = item.at("text");
    const auto ids = item.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/true), ids) << text;
    EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/false), text);
  }
  ASSERT_TRUE(GgufChatTemplate(*file_).has_value());
  EXPECT_NE(GgufChatTemplate(*file_)->find("<|im_start|>"), std::string::npos);
}

}  // namespace
}  // namespace lightvlm
