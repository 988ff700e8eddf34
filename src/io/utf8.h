// UTF-8 as the tokenizer needs it: validating prompts, walking code points, and turning a byte
// stream that may stop in the middle of a character (streamed tokens) into valid text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lightvlm {

// One step of a UTF-8 walk at some byte position. `length` is always >= 1 so a walk advances:
// for kValid the bytes of one code point; for kInvalid the maximal subpart of an ill-formed
// sequence (Unicode's "U+FFFD substitution of maximal subparts", as WHATWG and Rust use); for
// kTruncated the bytes of a well-formed sequence cut short by the end of the text.
struct Utf8Step {
  enum class Kind { kValid, kInvalid, kTruncated };
  Kind kind;
  size_t length;
  char32_t code_point;  // meaningful for kValid only
};

Utf8Step DecodeUtf8Step(std::string_view text, size_t pos);

// Byte offset of the first byte that is not part of a complete, well-formed character.
std::optional<size_t> FirstInvalidUtf8Byte(std::string_view text);

// Number of trailing bytes that begin a well-formed character but stop before its end (0 to 3):
// the part of a stream to hold back until more bytes arrive.
size_t IncompleteUtf8TailLength(std::string_view text);

// The text with every ill-formed or truncated sequence replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text);

void AppendUtf8(char32_t code_point, std::string& out);

// The code points of valid UTF-8 text, each as its own string (the initial BPE symbols).
template <class Visit>
void ForEachUtf8Char(std::string_view text, Visit visit) {
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = DecodeUtf8Step(text, pos).length;
    visit(text.substr(pos, length));
    pos += length;
  }
}

}  // namespace lightvlm
