#include "io/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/pretokenizer.h"
#include "io/tokenizer_json.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using Ids = std::vector<int32_t>;
using testing::ReadFile;

const std::string kStoriesPath = LIGHTVLM_SHARED_DIR "/models/stories260k/tokenizer.json";
const std::string kByteLevelPath =
    LIGHTVLM_SOURCE_DIR "/tests/fixtures/tokenizers/bytelevel_tiny.json";

// ---- SentencePiece style: stories260k ----
//
// Its normalizer prepends "▁" and turns spaces into "▁"; there is no pre-tokenizer, so the
// whole text is one word, merged by ascending rank (the index in model.merges).
// "Once upon a time" starts as ▁ O n c e ▁ u p o n ▁ a ▁ t i m e, then merges by rank:
//   0 ▁+t → ▁t, 2 ▁+a → ▁a, 31 i+m → im, 32 o+n → on, 63 ▁+u → ▁u,
//   64 ▁+O → ▁O, 66 ▁O+n → ▁On, 77 c+e → ce, 97 ▁u+p → ▁up,
//   119 im+e → ime, 129 ▁t+ime → ▁time, 157 ▁On+ce → ▁Once,
//   161 ▁up+on → ▁upon
//   → ▁Once(403) ▁upon(407) ▁a(261) ▁time(378), after <s>(1) from
//   the TemplateProcessing.
// "Lily saw a café.": ranks 2 ▁a, 3 ▁s, 22 ▁c, 33 il, 39 ▁sa, 50 ▁L,
//   53 ily, 62 ▁Lily, 147 ▁saw; "é" is in the vocabulary (485) but no
//   merge joins "▁c a f é":
//   → ▁Lily(317) ▁saw(394) ▁a(261) ▁c(280) a(412) f(431) é(485) .(426)
// "The dog ran.\nIt was happy 🙂": ranks 1 he, 4 ▁w, 12 ▁h, 15 ▁wa,
//   16 ▁T, 21 ▁d, 29 ▁was, 34 ▁The, 43 ▁ha, 46 an, 85 pp, 99 ▁r,
//   114 ▁happ, 146 ▁happy, 154 ▁do; "\n" and "🙂" are not in the
//   vocabulary and fall back to their UTF-8 bytes <0x0A> and
//   <0xF0><0x9F><0x99><0x82>:
//   → ▁The(291) ▁do(400) g(428) ▁r(352) an(303) .(426) <0x0A>(13)
//     I(442) t(413) ▁was(286) ▁happy(393) ▁(410) <0xF0>(243)
//     <0x9F>(162) <0x99>(156) <0x82>(133)
class TokenizerStories260k : public ::testing::Test {
 protected:
  void SetUp() override { tokenizer_ = Tokenizer::Load(kStoriesPath); }
  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(TokenizerStories260k, EncodesHandWorkedIds) {
  EXPECT_EQ(tokenizer_->Encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer_->Encode("Once upon a time", false), (Ids{403, 407, 261, 378}));
  EXPECT_EQ(tokenizer_->Encode("Lily saw a café.", true),
            (Ids{1, 317, 394, 261, 280, 412, 431, 485, 426}));
  EXPECT_EQ(
      tokenizer_->Encode("The dog ran.\nIt was happy 🙂", true),
      (Ids{1, 291, 400, 428, 352, 303, 426, 13, 442, 413, 286, 393, 410, 243, 162, 156, 133}));
  EXPECT_EQ(tokenizer_->Encode("", true), (Ids{1}));
}

// Each stretch between added tokens is normalized alone, as Hugging Face does, so "world" gets
// its own "▁" (and decodes with a space it did not have): "▁Hello▁" → ranks 49 ll, 65 ▁H,
// 92 ▁He → ▁He(346) ll(306) o(414) ▁(410); "▁world" → ranks 4 ▁w, 47 or, 87 ld → ▁w(263)
// or(304) ld(341).
TEST_F(TokenizerStories260k, AddedTokensSplitTheText) {
  EXPECT_EQ(tokenizer_->Encode("Hello <s>world", false),
            (Ids{346, 306, 414, 410, 1, 263, 304, 341}));
  EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode("Hello <s>world", false), false),
            "Hello <s> world");
}

TEST_F(TokenizerStories260k, DecodeInvertsEncode) {
  for (const std::string text : {"Once upon a time", "Lily saw a café.",
                                 "The dog ran.\nIt was happy 🙂", "  two leading spaces", "x"}) {
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text, true), true), text);
  }
  EXPECT_EQ(tokenizer_->Decode({1, 403, 407}, false), "<s> Once upon");
}

TEST_F(TokenizerStories260k, TokenBytesAreMidTextBytes) {
  EXPECT_EQ(tokenizer_->TokenBytes(403), " Once");
  EXPECT_EQ(tokenizer_->TokenBytes(13), "\n");
  EXPECT_EQ(tokenizer_->TokenBytes(243), "\xF0");
  EXPECT_EQ(tokenizer_->TokenBytes(1), "<s>");
  EXPECT_EQ(tokenizer_->TokenText(403), "\u2581Once");
}

TEST_F(TokenizerStories260k, VocabularyQueries) {
  EXPECT_EQ(tokenizer_->vocab_size(), 512);
  EXPECT_EQ(tokenizer_->TokenId("\u2581time"), 378);
  EXPECT_EQ(tokenizer_->TokenId("</s>"), 2);
  EXPECT_FALSE(tokenizer_->TokenId("no such token"));
  EXPECT_TRUE(tokenizer_->IsSpecial(1));
  EXPECT_FALSE(tokenizer_->IsSpecial(403));
  EXPECT_THROW(tokenizer_->TokenText(512), Error);
}

// A run of byte tokens that is not valid UTF-8 decodes to one U+FFFD per byte (ByteFallback).
TEST_F(TokenizerStories260k, InvalidByteRunDecodesToReplacementCharacters) {
  EXPECT_EQ(tokenizer_->Decode({403, 243, 162}, true), "Once\uFFFD\uFFFD");
}

// Without byte fallback, characters missing from the vocabulary become <unk> (0), one per run
// of them when fuse_unk is set.
TEST(TokenizerUnknown, MissingCharactersBecomeUnk) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kStoriesPath));
  file["model"]["byte_fallback"] = false;
  EXPECT_EQ(Tokenizer::FromJson(file.dump(), "unk.json")->Encode("a🙂🙂", false),
            (Ids{261, 0}));
  file["model"]["fuse_unk"] = false;
  EXPECT_EQ(Tokenizer::FromJson(file.dump(), "unk.json")->Encode("a🙂🙂", false),
            (Ids{261, 0, 0}));
}

// A long prompt is one word for this tokenizer (no pre-tokenizer): merging stays fast.
TEST_F(TokenizerStories260k, LongPromptRoundTrips) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "Once upon a time, Lily saw a big dog. ";
  text.pop_back();
  const Ids ids = tokenizer_->Encode(text, false);
  EXPECT_LT(ids.size(), text.size() / 3);
  EXPECT_EQ(tokenizer_->Decode(ids, true), text);
}

// The same model written the other way SentencePiece files come: no normalizer, a Metaspace
// pre-tokenizer that prepends "▁" only at the start of the prompt and splits before each "▁".
TEST(TokenizerMetaspace, MatchesPrependNormalizerAtTextStart) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kStoriesPath));
  file["normalizer"] = nullptr;
  file["pre_tokenizer"] = {{"type", "Metaspace"},
                           {"replacement", "\u2581"},
                           {"prepend_scheme", "first"},
                           {"split", true}};
  file["decoder"] = {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", "first"}};
  const auto tokenizer = Tokenizer::FromJson(file.dump(), "metaspace.json");
  EXPECT_EQ(tokenizer->Encode("Once upon a time", true), (Ids{1, 403, 407, 261, 378}));
  // "world" after <s> is not at the start of the prompt: no "▁", so w(424) or(304) ld(341).
  EXPECT_EQ(tokenizer->Encode("Hello <s>world", false),
            (Ids{346, 306, 414, 410, 1, 424, 304, 341}));
  EXPECT_EQ(tokenizer->Decode({403, 407, 261, 378}, true), "Once upon a time");
  EXPECT_EQ(tokenizer->TokenBytes(407), " upon");
}

// Hugging Face tokenizers takes a Metaspace replacement of exactly one character; an empty one
// made splitting and decoding loop forever, growing memory. Refused at load, in both places.
TEST(TokenizerMetaspace, ReplacementMustBeOneCharacter) {
  const nlohmann::json stories = nlohmann::json::parse(ReadFile(kStoriesPath));
  for (const std::string replacement : {"", "ab", "\u2581\u2581"}) {
    nlohmann::json file = stories;
    file["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", replacement}};
    const std::string expected =
        "tokenizer.json: pre_tokenizer.replacement must be exactly one character, got \"" +
        replacement + "\"";
    EXPECT_EQ(testing::ErrorOf([&] { Tokenizer::FromJson(file.dump(), "tokenizer.json"); }),
              expected);
    file = stories;
    file["decoder"] = {{"type", "Sequence"},
                       {"decoders", {{{"type", "Metaspace"}, {"replacement", replacement}}}}};
    EXPECT_EQ(testing::ErrorOf([&] { Tokenizer::FromJson(file.dump(), "tokenizer.json"); }),
              "tokenizer.json: decoder.decoders[0].replacement must be exactly one character, "
              "got \"" +
                  replacement + "\"");
  }
}

// Ids index dense tables: one stray id (16777215) used to size a 668 MB table before the
// vocabulary was compared with the model's. Now every id is checked against the limit first.
TEST(TokenizerIdLimit, StrayIdsAreRefusedAgainstTheLimit) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kStoriesPath));
  file["model"]["vocab"]["stray"] = 16777215;
  const TokenIdLimit config_limit{512, "config.json's vocab_size 512"};
  EXPECT_EQ(testing::ErrorOf([&] { Tokenizer::FromJson(file.dump(), "t.json", config_limit); }),
            "t.json: model.vocab.stray has id 16777215 outside 0..511 (config.json's vocab_size "
            "512)");
  file["model"]["vocab"]["stray"] = 16777216;
  EXPECT_EQ(testing::ErrorOf([&] { Tokenizer::FromJson(file.dump(), "t.json"); }),
            "t.json: model.vocab.stray has id 16777216 outside 0..16777215 (the largest "
            "vocabulary supported)");
  file["model"]["vocab"].erase("stray");
  file["added_tokens"] = {{{"id", 600}, {"content", "<extra>"}}};
  EXPECT_EQ(testing::ErrorOf([&] { Tokenizer::FromJson(file.dump(), "t.json", config_limit); }),
            "t.json: added_tokens[0].id (600) is outside 0..511 (config.json's vocab_size 512)");
  EXPECT_EQ(Tokenizer::FromJson(file.dump(), "t.json")->vocab_size(), 601);
}

// ---- byte-level style: tests/fixtures/tokenizers/bytelevel_tiny.json ----
//
// Vocabulary: the 256 GPT-2 byte characters with id = byte value (so "Ġ", the space, is 32 and
// "Ċ", the newline, is 10), then one token per merge, id = 256 + rank:
//   0 Ġ t  1 h e  2 Ġt he  3 Ġ c  4 a f  5 Ġc af  6 n a  7 Ã ¯  8 Ã ©  9 Ġcaf Ã©  10 1 2
//   11 Ġ Ġ  12 v e  13 na Ã¯;  added tokens <|im_start|> 270 and <|im_end|> 271 (special).
// The Qwen2 split regex cuts "naïve café 123!" into "naïve" " café" " " "1" "2" "3" "!"
// (digits one by one, so merge "1 2" never applies). Byte-level, "ï" is C3 AF → "Ã¯" and
// "é" is C3 A9 → "Ã©". Merging:
//   naÃ¯ve: rank 6 na, 7 Ã¯, 12 ve, 13 naÃ¯ → naÃ¯(269) ve(268)
//   ĠcafÃ©: rank 3 Ġc, 4 af, 5 Ġcaf, 8 Ã©, 9 ĠcafÃ© → ĠcafÃ©(265)
//   Ġ(32) 1(49) 2(50) 3(51) !(33)
class TokenizerByteLevel : public ::testing::Test {
 protected:
  void SetUp() override { tokenizer_ = Tokenizer::Load(kByteLevelPath); }
  std::unique_ptr<Tokenizer> tokenizer_;
};

std::vector<std::string> PreTokenize(const nlohmann::json& node, const std::string& text) {
  const std::string file = "bytelevel_tiny.json";
  const auto pre_tokenizer = ParsePreTokenizer(TokenizerJson(node, file, "pre_tokenizer"));
  std::vector<std::string> pieces;
  for (const TextPiece& piece : pre_tokenizer->SplitAll({{text, true}})) {
    pieces.push_back(piece.text);
  }
  return pieces;
}

TEST_F(TokenizerByteLevel, SplitRegexCutsWordsNumbersAndPunctuation) {
  const nlohmann::json file = nlohmann::json::parse(ReadFile(kByteLevelPath));
  const nlohmann::json& split = file["pre_tokenizer"]["pretokenizers"][0];
  EXPECT_EQ(PreTokenize(split, "naïve café 123!"),
            (std::vector<std::string>{"naïve", " café", " ", "1", "2", "3", "!"}));
  // "\s+(?!\S)" leaves the last space of a run to the next word; "\s*[\r\n]+" takes newlines.
  EXPECT_EQ(PreTokenize(split, "x  the\n\nIt's"),
            (std::vector<std::string>{"x", " ", " the", "\n\n", "It", "'s"}));
  EXPECT_EQ(PreTokenize(file["pre_tokenizer"], "naïve café 123!"),
            (std::vector<std::string>{"naÃ¯ve", "ĠcafÃ©", "Ġ", "1", "2", "3", "!"}));
}

TEST_F(TokenizerByteLevel, EncodesHandWorkedIds) {
  EXPECT_EQ(tokenizer_->Encode("naïve café 123!", true), (Ids{269, 268, 265, 32, 49, 50, 51, 33}));
  // x(120), Ġ(32), Ġthe(258): ranks 0 Ġt, 1 he, 2 Ġthe.
  EXPECT_EQ(tokenizer_->Encode("x  the", false), (Ids{120, 32, 258}));
}

// Between the added tokens "the" follows a newline, not a space: t(116) he(257); "\n" is Ċ(10).
TEST_F(TokenizerByteLevel, SpecialTokensMapToTheirIds) {
  const std::string chat = "<|im_start|>user\nthe café<|im_end|>";
  const Ids ids{270, 117, 115, 101, 114, 10, 116, 257, 265, 271};
  EXPECT_EQ(tokenizer_->Encode(chat, false), ids);
  EXPECT_EQ(tokenizer_->Decode(ids, false), chat);
  EXPECT_EQ(tokenizer_->Decode(ids, true), "user\nthe café");
  EXPECT_EQ(tokenizer_->TokenId("<|im_end|>"), 271);
  EXPECT_TRUE(tokenizer_->IsSpecial(270));
  EXPECT_EQ(tokenizer_->vocab_size(), 272);
}

TEST_F(TokenizerByteLevel, DecodeInvertsEncode) {
  for (const std::string text :
       {"naïve café 123!", "x  the\n\nIt's 🙂 ok", " \t tabs  ", "日本語"}) {
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text, true), true), text);
  }
}

TEST_F(TokenizerByteLevel, TokenBytesAreRawBytes) {
  EXPECT_EQ(tokenizer_->TokenBytes(258), " the");
  EXPECT_EQ(tokenizer_->TokenBytes(195), "\xC3");
  EXPECT_EQ(tokenizer_->TokenBytes(270), "<|im_start|>");
  EXPECT_EQ(tokenizer_->TokenBytes(5000), "");  // an id past the vocabulary names no token
}

// lstrip / rstrip let an added token swallow the whitespace beside it; a single_word token
// matches only where it is not part of a longer word.
TEST(TokenizerAddedTokens, StripAndSingleWordOptions) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kByteLevelPath));
  const auto encode = [&](const std::string& text) {
    return Tokenizer::FromJson(file.dump(), "tiny.json")->Encode(text, false);
  };
  // h(104) i(105) Ġ(32) <|im_end|>(271) Ġ(32) x(120)
  EXPECT_EQ(encode("hi <|im_end|> x"), (Ids{104, 105, 32, 271, 32, 120}));
  file["added_tokens"][1]["lstrip"] = true;
  file["added_tokens"][1]["rstrip"] = true;
  EXPECT_EQ(encode("hi <|im_end|> x"), (Ids{104, 105, 271, 120}));
  file["added_tokens"].push_back(
      {{"id", 272}, {"content", "cat"}, {"special", false}, {"single_word", true}});
  // "cat" alone is the added token; in " cats" it is not: Ġc(259) a(97) t(116) s(115).
  EXPECT_EQ(encode("cat cats"), (Ids{272, 259, 97, 116, 115}));
}

// Llama 3: a word found whole in the vocabulary is one token, whatever the merges would give.
TEST(TokenizerIgnoreMerges, WholeWordInVocabularyIsOneToken) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kByteLevelPath));
  file["model"]["vocab"]["xyz"] = 272;
  EXPECT_EQ(Tokenizer::FromJson(file.dump(), "tiny.json")->Encode("xyz", false),
            (Ids{120, 121, 122}));
  file["model"]["ignore_merges"] = true;
  EXPECT_EQ(Tokenizer::FromJson(file.dump(), "tiny.json")->Encode("xyz", false), (Ids{272}));
}

// GPT-2 style: ByteLevel splits with its own regex and prepends a space. " the  cat" splits into
// " the", " ", " cat" → Ġthe(258), Ġ(32), Ġc(259) a(97) t(116).
TEST(TokenizerGpt2, ByteLevelWithRegexAndPrefixSpace) {
  nlohmann::json file = nlohmann::json::parse(ReadFile(kByteLevelPath));
  file["normalizer"] = nullptr;
  file["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  const auto tokenizer = Tokenizer::FromJson(file.dump(), "gpt2.json");
  EXPECT_EQ(tokenizer->Encode("the  cat", false), (Ids{258, 32, 259, 97, 116}));
  EXPECT_EQ(tokenizer->Decode({258, 32, 259, 97, 116}, true), " the  cat");
}

// Split behaviors on "a-b--c" at "-", as Hugging Face defines them; with invert the pattern
// matches the pieces (letters) and the rest ("-", "--") is the delimiter.
TEST(TokenizerSplit, Behaviors) {
  const auto split = [](const nlohmann::json& pattern, const std::string& behavior, bool invert) {
    const nlohmann::json node = {
        {"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}};
    return PreTokenize(node, "a-b--c");
  };
  const nlohmann::json dash = {{"String", "-"}};
  const nlohmann::json letter = {{"Regex", "\\p{L}"}};
  using Pieces = std::vector<std::string>;
  EXPECT_EQ(split(dash, "Removed", false), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(split(dash, "Isolated", false), (Pieces{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(split(dash, "MergedWithPrevious", false), (Pieces{"a-", "b-", "-", "c"}));
  EXPECT_EQ(split(dash, "MergedWithNext", false), (Pieces{"a", "-b", "-", "-c"}));
  EXPECT_EQ(split(dash, "Contiguous", false), (Pieces{"a", "-", "b", "--", "c"}));
  EXPECT_EQ(split(letter, "Removed", true), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(split(letter, "MergedWithPrevious", true), (Pieces{"a-", "b--", "c"}));
}

// ---- streaming ----

TEST(StreamDecoder, HoldsBackACharacterUntilItsBytesAreComplete) {
  const auto tokenizer = Tokenizer::Load(kStoriesPath);
  StreamDecoder stream(*tokenizer, /*skip_special=*/true);
  EXPECT_EQ(stream.Push(1), "");         // <s> is special
  EXPECT_EQ(stream.Push(403), " Once");  // continues a text: the space stays
  EXPECT_EQ(stream.Push(410), " ");
  EXPECT_EQ(stream.Push(243), "");  // 🙂 = F0 9F 99 82
  EXPECT_EQ(stream.Push(162), "");
  EXPECT_EQ(stream.Push(156), "");
  EXPECT_EQ(stream.Push(133), "🙂");
  EXPECT_EQ(stream.Push(13), "\n");
  EXPECT_EQ(stream.Finish(), "");
}

TEST(StreamDecoder, FinishReplacesAnIncompleteCharacter) {
  const auto tokenizer = Tokenizer::Load(kStoriesPath);
  StreamDecoder stream(*tokenizer, /*skip_special=*/false);
  EXPECT_EQ(stream.Push(1), "<s>");
  EXPECT_EQ(stream.Push(243), "");
  EXPECT_EQ(stream.Push(162), "");
  EXPECT_EQ(stream.Finish(), "\uFFFD");
  EXPECT_EQ(stream.Finish(), "");
}

TEST(StreamDecoder, BytesThatCanNeverCompleteAreReplacedAtOnce) {
  const auto tokenizer = Tokenizer::Load(kStoriesPath);
  StreamDecoder stream(*tokenizer, /*skip_special=*/true);
  EXPECT_EQ(stream.Push(243), "");         // F0 starts a 4-byte character...
  EXPECT_EQ(stream.Push(412), "\uFFFDa");  // ...but "a" cannot continue it
}

TEST(StreamDecoder, ByteLevelCharacterSplitAcrossTokens) {
  const auto tokenizer = Tokenizer::Load(kByteLevelPath);
  StreamDecoder stream(*tokenizer, /*skip_special=*/true);
  EXPECT_EQ(stream.Push(195), "");  // "é" = C3 A9, byte tokens Ã and ©
  EXPECT_EQ(stream.Push(169), "é");
}

// ---- errors ----

// The error message of loading `file` (written as JSON) under the name "broken.json".
std::string LoadError(const std::string& text) {
  return testing::ErrorOf([&] { Tokenizer::FromJson(text, "broken.json"); });
}

std::string LoadError(const nlohmann::json& file) { return LoadError(file.dump()); }

nlohmann::json ByteLevelFile() { return nlohmann::json::parse(ReadFile(kByteLevelPath)); }

TEST(TokenizerErrors, NameTheFileAndTheField) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "broken.json: not valid JSON",
                      LoadError(std::string("{\"model\": ")));
  nlohmann::json file = ByteLevelFile();
  file.erase("model");
  EXPECT_EQ(LoadError(file), "broken.json: model is missing");

  file = ByteLevelFile();
  file["model"]["type"] = "WordPiece";
  EXPECT_EQ(LoadError(file), "broken.json: model.type is \"WordPiece\"; only \"BPE\" is supported");

  file = ByteLevelFile();
  file["model"].erase("vocab");
  EXPECT_EQ(LoadError(file), "broken.json: model.vocab is missing");

  file = ByteLevelFile();
  file["model"]["vocab"] = nlohmann::json::array({"a", "b"});
  EXPECT_EQ(LoadError(file), "broken.json: model.vocab must be an object of token: id");

  file = ByteLevelFile();
  file["model"]["merges"][1] = "h zz";
  EXPECT_EQ(LoadError(file),
            "broken.json: model.merges[1] names \"zz\", which is not in model.vocab");

  file = ByteLevelFile();
  file["added_tokens"][0]["id"] = 5;
  EXPECT_EQ(LoadError(file),
            "broken.json: added_tokens[0].id (5) is \"ą\" in model.vocab, not \"<|im_start|>\"");
}

TEST(TokenizerErrors, NameUnsupportedStepTypes) {
  nlohmann::json file = ByteLevelFile();
  file["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_EQ(LoadError(file),
            "broken.json: pre_tokenizer.type \"Whitespace\" is not a supported pre-tokenizer");

  file = ByteLevelFile();
  file["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways";
  EXPECT_EQ(LoadError(file),
            "broken.json: pre_tokenizer.pretokenizers[0].behavior \"Sideways\" "
            "is not a known split behavior");

  file = ByteLevelFile();
  file["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  EXPECT_NE(LoadError(file).find("broken.json: pre_tokenizer.pretokenizers[0].pattern.Regex does "
                                 "not compile: "),
            std::string::npos);

  file = ByteLevelFile();
  file["decoder"] = {{"type", "WordPiece"}};
  EXPECT_EQ(LoadError(file), "broken.json: decoder.type \"WordPiece\" is not a supported decoder");

  file = ByteLevelFile();
  file["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_EQ(LoadError(file),
            "broken.json: normalizer.type \"Lowercase\" is not a supported normalizer");

  file = ByteLevelFile();
  file["post_processor"] = {{"type", "BertProcessing"}};
  EXPECT_EQ(
      LoadError(file),
      "broken.json: post_processor.type \"BertProcessing\" is not a supported post-processor");
}

TEST(TokenizerErrors, MissingFileIsNamed) {
  EXPECT_EQ(testing::ErrorOf([] { Tokenizer::Load("/nonexistent/tokenizer.json"); }),
            "/nonexistent/tokenizer.json: cannot open: No such file or directory");
}

TEST(TokenizerErrors, InvalidUtf8PromptNamesTheByte) {
  const auto tokenizer = Tokenizer::Load(kByteLevelPath);
  EXPECT_EQ(testing::ErrorOf([&] { tokenizer->Encode("abc\xFF", true); }),
            "prompt is not valid UTF-8 at byte 3");
  EXPECT_THROW(tokenizer->Encode("ab\xE2\x82", false), Error);  // cut-off character
}

}  // namespace
}  // namespace lightvlm
