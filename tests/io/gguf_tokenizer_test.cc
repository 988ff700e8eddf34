// Tokenizers built from GGUF metadata against the ids and text Hugging Face tokenizers gives for
// the same vocabularies: tests/fixtures/gguf/tokenizer_<family>.gguf hold the tokenizers of
// tests/fixtures/<family>/model/tokenizer.json as llama.cpp's converter writes them (gpt2 style
// with the "qwen2" pre-tokenizer; SentencePiece style with scores), and
// tests/fixtures/<family>/tokenizer_cases.json holds what transformers gave for those.
#include "io/gguf_tokenizer.h"

#include <gtest/gtest.h>

#include "io/json_file.h"
#include "support/gguf_bytes.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

using testing::ErrorOf;
using testing::GgufBytes;

std::unique_ptr<GgufFile> OpenFixture(const std::string& family) {
  return GgufFile::Open(
      (testing::kFixturesDir / "gguf" / ("tokenizer_" + family + ".gguf")).string());
}

class GgufTokenizerGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufTokenizerGoldenTest, EncodeAndDecodeMatchTransformers) {
  const auto file = OpenFixture(GetParam());
  const auto tokenizer = TokenizerFromGguf(*file);
  const JsonFile cases =
      JsonFile::Load((testing::kFixturesDir / GetParam() / "tokenizer_cases.json").string());
  ASSERT_GE(cases.root().size(), 10u);
  for (const auto& item : cases.root()) {
    const std::string text = item.at("text");
    const std::vector<int32_t> ids = item.at("ids");
    EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/true), ids) << "text: " << text;
    EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/true), item.at("decoded").get<std::string>())
        << "text: " << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GgufTokenizerGoldenTest, ::testing::Values("qwen2", "llama"));

TEST(GgufTokenizerTest, SpecialTokensAndChatTemplate) {
  const auto llama = OpenFixture("llama");
  const GgufSpecialTokens special = ReadGgufSpecialTokens(*llama);
  EXPECT_EQ(special.bos, 1);
  EXPECT_EQ(special.eos, 2);
  EXPECT_EQ(special.unknown, 0);
  EXPECT_EQ(special.padding, std::nullopt);
  EXPECT_TRUE(special.add_bos);
  EXPECT_FALSE(special.add_eos);
  EXPECT_EQ(GgufChatTemplate(*llama), "{{ messages[0]['content'] }}");
  const auto tokenizer = TokenizerFromGguf(*llama);
  EXPECT_TRUE(tokenizer->IsSpecial(1));
  EXPECT_EQ(tokenizer->Encode("<s>", /*add_special=*/false), std::vector<int32_t>{1});

  const auto qwen2 = OpenFixture("qwen2");
  EXPECT_FALSE(ReadGgufSpecialTokens(*qwen2).add_bos);
  const auto qwen2_tokenizer = TokenizerFromGguf(*qwen2);
  const int32_t im_start = *qwen2_tokenizer->TokenId("<|im_start|>");
  EXPECT_EQ(qwen2_tokenizer->Encode("<|im_start|>", false), std::vector<int32_t>{im_start});
  EXPECT_EQ(qwen2_tokenizer->Decode({im_start}, /*skip_special=*/true), "");
}

// A gpt2-style tokenizer of the tokens "1", "2", "12", with `pre` as tokenizer.ggml.pre.
std::string TinyGpt2(const std::string& model, const std::string& pre,
                     std::vector<int32_t> types = {1, 1, 1}) {
  return GgufBytes()
      .Header(0, 5)
      .KeyString("tokenizer.ggml.model", model)
      .KeyString("tokenizer.ggml.pre", pre)
      .KeyStrings("tokenizer.ggml.tokens", {"1", "2", "12"})
      .KeyStrings("tokenizer.ggml.merges", {"1 2"})
      .KeyInt32s("tokenizer.ggml.token_type", types)
      .str();
}

// The same path on every call within a test (and an emptied directory).
std::string TempPath() { return (testing::FreshTempDir() / "tokenizer.gguf").string(); }

std::string BuildError(const std::string& bytes) {
  const std::string path = TempPath();
  testing::WriteFile(path, bytes);
  const auto file = GgufFile::Open(path);
  return ErrorOf([&] { TokenizerFromGguf(*file); });
}

TEST(GgufTokenizerTest, PreTokenizerNamesMapToTheirRegexes) {
  const std::string path = TempPath();
  EXPECT_EQ(BuildError(TinyGpt2("gpt2", "deepseek-llm")),
            path +
                ": tokenizer.ggml.pre \"deepseek-llm\" is not a supported pre-tokenizer "
                "(supported: gpt-2, smollm, qwen2, llama-bpe)");
  // The GPT-2 regex keeps a run of digits together, "smollm" and "qwen2" split each digit
  // off, "llama-bpe" keeps runs of up to three.
  const std::pair<std::string, std::vector<int32_t>> cases[] = {
      {"gpt-2", {2}}, {"smollm", {0, 1}}, {"qwen2", {0, 1}}, {"llama-bpe", {2}}};
  for (const auto& [pre, ids] : cases) {
    testing::WriteFile(path, TinyGpt2("gpt2", pre));
    EXPECT_EQ(TokenizerFromGguf(*GgufFile::Open(path))->Encode("12", false), ids) << pre;
  }
}

TEST(GgufTokenizerTest, BadMetadataIsNamed) {
  const std::string path = TempPath();
  EXPECT_EQ(BuildError(TinyGpt2("bert", "gpt-2")),
            path +
                ": tokenizer.ggml.model \"bert\" is not a supported tokenizer model "
                "(supported: gpt2, llama)");
  EXPECT_EQ(BuildError(TinyGpt2("gpt2", "gpt-2", {1, 1})),
            path + ": tokenizer.ggml.token_type has 2 entries for 3 tokens");
  const std::string bad_merge = GgufBytes()
                                    .Header(0, 3)
                                    .KeyString("tokenizer.ggml.model", "gpt2")
                                    .KeyStrings("tokenizer.ggml.tokens", {"1", "2"})
                                    .KeyStrings("tokenizer.ggml.merges", {"1 2"})
                                    .str();
  EXPECT_EQ(BuildError(bad_merge),
            path +
                " (tokenizer metadata): model.merges[0] names \"12\", which is not in "
                "model.vocab");
  const std::string twice = GgufBytes()
                                .Header(0, 3)
                                .KeyString("tokenizer.ggml.model", "gpt2")
                                .KeyStrings("tokenizer.ggml.tokens", {"a", "a"})
                                .KeyStrings("tokenizer.ggml.merges", {})
                                .str();
  EXPECT_EQ(BuildError(twice), path + ": tokenizer.ggml.tokens has \"a\" twice, at ids 0 and 1");
  // Regression (fuzzing): a merge that is not UTF-8 escaped as nlohmann's type_error 316.
  const std::string not_utf8 = GgufBytes()
                                   .Header(0, 3)
                                   .KeyString("tokenizer.ggml.model", "gpt2")
                                   .KeyStrings("tokenizer.ggml.tokens", {"1", "2"})
                                   .KeyStrings("tokenizer.ggml.merges", {"1 2", "1 \xa0"})
                                   .str();
  EXPECT_EQ(BuildError(not_utf8), path + ": tokenizer.ggml.merges[1] is not valid UTF-8");
  const std::string no_tokens =
      GgufBytes().Header(0, 1).KeyString("tokenizer.ggml.model", "gpt2").str();
  EXPECT_EQ(BuildError(no_tokens), path + ": metadata 'tokenizer.ggml.tokens' is missing");
}

}  // namespace
}  // namespace lightvlm
