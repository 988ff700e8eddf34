// The tokenizers of the checkpoint layouts without tokenizer.json, against ids and decodes
// recorded from transformers' slow classes (tests/fixtures/tokenizers/<layout>/cases.json, made
// by tools/make_tokenizer_fixtures.py): vocab.json + merges.txt (Qwen2Tokenizer) and
// SentencePiece's tokenizer.model (LlamaTokenizer, legacy, as InternLM2Tokenizer encodes), each
// with added special tokens from tokenizer_config.json.
#include <gtest/gtest.h>

#include "io/json_file.h"
#include "io/tokenizer_loader.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

const auto kTokenizersDir = testing::kFixturesDir / "tokenizers";

class TokenizerFilesGoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFilesGoldenTest, EncodeAndDecodeMatchTransformers) {
  const auto directory = kTokenizersDir / GetParam();
  const auto tokenizer = LoadTokenizer(directory.string());
  const JsonFile cases = JsonFile::Load((directory / "cases.json").string());
  ASSERT_GE(cases.root().size(), 20u);
  for (const auto& item : cases.root()) {
    const std::string text = item.at("text");
    const std::vector<int32_t> ids = item.at("ids");
    EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/true), ids) << "text: " << text;
    EXPECT_EQ(tokenizer->Encode(text, /*add_special=*/false),
              item.at("ids_without_special").get<std::vector<int32_t>>())
        << "text: " << text;
    EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/true),
              item.at("decoded_skip_special").get<std::string>())
        << "text: " << text;
    // SentencePiece without skip_special: lightvlm's rule, where the slow classes disagree
    // (io/sentencepiece_tokenizer.h); Qwen2: transformers' own.
    const std::string decoded =
        item.contains("decoded_by_runs") ? item.at("decoded_by_runs") : item.at("decoded");
    EXPECT_EQ(tokenizer->Decode(ids, /*skip_special=*/false), decoded) << "text: " << text;
    // Streaming gives the same text as a whole decode (SentencePiece's differs by the dummy
    // prefix's space at the start, which a stream keeps: SpecialTokensAndPieces below).
    if (GetParam() == "qwen2_vocab_merges") {
      StreamDecoder stream(*tokenizer, /*skip_special=*/false);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.Push(id);
      EXPECT_EQ(streamed + stream.Finish(), decoded) << "text: " << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, TokenizerFilesGoldenTest,
                         ::testing::Values("qwen2_vocab_merges", "sentencepiece"));

TEST(SentencePieceTokenizer, SpecialTokensAndPieces) {
  const auto tokenizer = LoadTokenizer((kTokenizersDir / "sentencepiece").string());
  EXPECT_EQ(tokenizer->vocab_size(), 425);  // 420 pieces + 5 added tokens
  EXPECT_EQ(tokenizer->TokenId("<IMG_CONTEXT>"), 422);
  EXPECT_EQ(tokenizer->TokenId("<s>"), 1);
  EXPECT_EQ(tokenizer->TokenId("not a piece"), std::nullopt);
  EXPECT_TRUE(tokenizer->IsSpecial(1));
  EXPECT_TRUE(tokenizer->IsSpecial(422));
  EXPECT_EQ(tokenizer->TokenText(422), "<IMG_CONTEXT>");
  // Mid-text bytes: "▁" is a space, a byte piece its byte (0x0A is "\n").
  const std::optional<int32_t> newline = tokenizer->TokenId("<0x0A>");
  ASSERT_TRUE(newline.has_value());
  EXPECT_EQ(tokenizer->TokenBytes(*newline), "\n");
  const std::vector<int32_t> hello = tokenizer->Encode("Hello", false);
  ASSERT_FALSE(hello.empty());
  EXPECT_EQ(tokenizer->TokenBytes(hello[0])[0], ' ');
  // A character whose bytes span several byte pieces streams out whole.
  StreamDecoder stream(*tokenizer, /*skip_special=*/true);
  std::string streamed;
  for (int32_t id : tokenizer->Encode("\xe4\xb8\xad!", true)) streamed += stream.Push(id);
  EXPECT_EQ(streamed + stream.Finish(), " \xe4\xb8\xad!");
}

}  // namespace
}  // namespace lightvlm
