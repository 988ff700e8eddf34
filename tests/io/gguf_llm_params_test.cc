#include "io/gguf_llm_params.h"

#include <gtest/gtest.h>

#include "support/gguf_bytes.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

TEST(GgufLlmParamsTest, ReadsTheLlamaKeysOfTheFixture) {
  // The values tools/make_gguf_fixtures.py writes (add_metadata).
  const auto file = GgufFile::Open((testing::kFixturesDir / "gguf" / "types_v3.gguf").string());
  const GgufLlmParams params = ReadGgufLlmParams(*file);
  EXPECT_EQ(params.architecture, "llama");
  EXPECT_EQ(params.block_count, 1);
  EXPECT_EQ(params.context_length, 64);
  EXPECT_EQ(params.embedding_length, 16);
  EXPECT_EQ(params.feed_forward_length, 32);
  EXPECT_EQ(params.head_count, 4);
  EXPECT_EQ(params.head_count_kv, 2);
  EXPECT_EQ(params.head_dim, 4);
  EXPECT_EQ(params.rope_freq_base, 10000.0);
  EXPECT_FLOAT_EQ(params.rms_norm_eps, 1e-5);
  EXPECT_EQ(params.vocab_size, 32);
}

TEST(GgufLlmParamsTest, ErrorsNameTheKey) {
  const std::string path = (testing::FreshTempDir() / "params.gguf").string();
  testing::WriteFile(
      path, testing::GgufBytes().Header(0, 1).KeyString("general.architecture", "gpt2").str());
  EXPECT_EQ(testing::ErrorOf([&] { ReadGgufLlmParams(*GgufFile::Open(path)); }),
            path + ": general.architecture \"gpt2\" is not supported (supported: llama, qwen2)");
  testing::WriteFile(
      path, testing::GgufBytes().Header(0, 1).KeyString("general.architecture", "qwen2").str());
  EXPECT_EQ(testing::ErrorOf([&] { ReadGgufLlmParams(*GgufFile::Open(path)); }),
            path + ": metadata 'qwen2.block_count' is missing");
}

}  // namespace
}  // namespace lightvlm
