// The tokenizer against ids and decoded text recorded from the Hugging Face `tokenizers`
// library (tests/fixtures/<family>/tokenizer_cases.json): SentencePiece-style BPE with byte
// fallback (llama, llava) and byte-level BPE with the Qwen2 split regex (qwen2).
#include <gtest/gtest.h>

#include "io/json_file.h"
#include "io/tokenizer.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

class TokenizerGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGoldenTest, EncodeAndDecodeMatchTransformers) {
  const auto family = testing::kFixturesDir / GetParam();
  const auto tokenizer = Tokenizer::Load((family / "model" / "tokenizer.json").string());
  const JsonFile cases = JsonFile::Load((family / "tokenizer_cases.json").string());
  ASSERT_GE(cases.root().size(), 10u);
  for (const auto& item : cases.root()) {
    const std::string text = item.at("text");
    const std::vector<int32_t> ids = item.at("ids");
    EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/true), ids) << "text: " << text;
    EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/true), item.at("decoded").get<std::string>())
        << "text: " << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, TokenizerGoldenTest,
                         ::testing::Values("llama", "qwen2", "llava"));

}  // namespace
}  // namespace lightvlm
