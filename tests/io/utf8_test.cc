#include "io/utf8.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

using Kind = Utf8Step::Kind;

TEST(TokenizerUtf8, DecodesOneToFourByteCharacters) {
  const std::string text = "a\u00E9\u20AC\U0001F642";  // a é € 🙂
  const Utf8Step a = DecodeUtf8Step(text, 0);
  const Utf8Step e_acute = DecodeUtf8Step(text, 1);
  const Utf8Step euro = DecodeUtf8Step(text, 3);
  const Utf8Step smile = DecodeUtf8Step(text, 6);
  EXPECT_EQ(a.kind, Kind::kValid);
  EXPECT_EQ(a.length, 1u);
  EXPECT_EQ(a.code_point, U'a');
  EXPECT_EQ(e_acute.length, 2u);
  EXPECT_EQ(e_acute.code_point, U'\u00E9');
  EXPECT_EQ(euro.length, 3u);
  EXPECT_EQ(euro.code_point, U'\u20AC');
  EXPECT_EQ(smile.length, 4u);
  EXPECT_EQ(smile.code_point, U'\U0001F642');
}

// Ill-formed sequences report their maximal subpart: the bytes that could still have begun a
// character, so a replacement covers them and the walk resumes at the offending byte.
TEST(TokenizerUtf8, RejectsIllFormedSequences) {
  const auto step = [](std::string_view bytes) { return DecodeUtf8Step(bytes, 0); };
  EXPECT_EQ(step("\x80").kind, Kind::kInvalid);    // lone continuation byte
  EXPECT_EQ(step("\xC0\x80").length, 1u);          // overlong lead byte
  EXPECT_EQ(step("\xE0\x80\x80").length, 1u);      // overlong three-byte form
  EXPECT_EQ(step("\xED\xA0\x80").length, 1u);      // surrogate U+D800
  EXPECT_EQ(step("\xF4\x90\x80\x80").length, 1u);  // above U+10FFFF
  EXPECT_EQ(step("\xF5").kind, Kind::kInvalid);
  EXPECT_EQ(step("\xE2\x82"
                 "A")
                .kind,
            Kind::kInvalid);
  EXPECT_EQ(step("\xE2\x82"
                 "A")
                .length,
            2u);
  EXPECT_EQ(step("\xF0\x9F\x99").kind, Kind::kTruncated);
  EXPECT_EQ(step("\xF0\x9F\x99").length, 3u);
}

TEST(TokenizerUtf8, FindsTheFirstInvalidByte) {
  EXPECT_FALSE(FirstInvalidUtf8Byte(""));
  EXPECT_FALSE(FirstInvalidUtf8Byte("plain \u00E9 \U0001F642"));
  EXPECT_EQ(FirstInvalidUtf8Byte("ab\xFF"), 2u);
  EXPECT_EQ(FirstInvalidUtf8Byte("\u00E9\xE2\x82"), 2u);  // truncated at the end
}

TEST(TokenizerUtf8, MeasuresAnIncompleteTail) {
  EXPECT_EQ(IncompleteUtf8TailLength(""), 0u);
  EXPECT_EQ(IncompleteUtf8TailLength("a\xF0\x9F"), 2u);
  EXPECT_EQ(IncompleteUtf8TailLength("a\xF0\x9F\x99"), 3u);
  EXPECT_EQ(IncompleteUtf8TailLength("a\U0001F642"), 0u);
  EXPECT_EQ(IncompleteUtf8TailLength("\u20AC\xE2"), 1u);
  EXPECT_EQ(IncompleteUtf8TailLength("a\x80"), 0u);  // never completes: not held back
  EXPECT_EQ(IncompleteUtf8TailLength("\xE2\x82"
                                     "A"),
            0u);
}

TEST(TokenizerUtf8, ReplacesEachMaximalSubpartOnce) {
  EXPECT_EQ(ReplaceInvalidUtf8("ok \u00E9"), "ok \u00E9");
  EXPECT_EQ(ReplaceInvalidUtf8("a\xF0\x9F"
                               "b"),
            "a\uFFFD"
            "b");
  EXPECT_EQ(ReplaceInvalidUtf8("\xC0\x80"), "\uFFFD\uFFFD");
  EXPECT_EQ(ReplaceInvalidUtf8("\xE2\x82"), "\uFFFD");
}

TEST(TokenizerUtf8, AppendsAndWalksCodePoints) {
  std::string text;
  for (char32_t c : {U'a', U'\u00E9', U'\u20AC', U'\U0001F642'}) AppendUtf8(c, text);
  EXPECT_EQ(text, "a\u00E9\u20AC\U0001F642");
  std::vector<std::string> characters;
  ForEachUtf8Char(text, [&](std::string_view c) { characters.emplace_back(c); });
  EXPECT_EQ(characters, (std::vector<std::string>{"a", "\u00E9", "\u20AC", "\U0001F642"}));
}

}  // namespace
}  // namespace lightvlm
