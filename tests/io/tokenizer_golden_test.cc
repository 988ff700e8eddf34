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

// Qwen2's tokenizer.json normalizes to NFC: decomposed accents ("e" + U+0301, U+212B ANGSTROM
// SIGN, "n" + U+0303) encode as the composed letters do, as the tokenizers library encodes them
// (checked with tokenizers on this file: both give 66 728 520 220 127 227 220 633). Regression:
// NFC used to pass text through unchanged.
TEST(TokenizerNormalizerTest, Qwen2ComposesToNfcBeforeEncoding) {
  const auto tokenizer =
      Tokenizer::Load((testing::kFixturesDir / "qwen2" / "model" / "tokenizer.json").string());
  const std::vector<int32_t> composed = tokenizer->Encode("caf\u00e9 \u00c5 \u00f1", true);
  EXPECT_EQ(tokenizer->Encode("cafe\u0301 \u212b n\u0303", true), composed);
  EXPECT_EQ(composed, (std::vector<int32_t>{66, 728, 520, 220, 127, 227, 220, 633}));
  // U+0343 has a singleton decomposition: NFC gives U+0313, and decoding returns that (found by
  // the tokenizer_encode fuzzer, whose round-trip check assumed no normalization; tokenizers
  // gives 64 136 241 827 and decodes them to "a\u0313 x" too).
  const std::vector<int32_t> koronis = tokenizer->Encode("a\u0343 x", true);
  EXPECT_EQ(koronis, (std::vector<int32_t>{64, 136, 241, 827}));
  EXPECT_EQ(tokenizer->Decode(koronis, false), "a\u0313 x");
}

}  // namespace
}  // namespace lightvlm
