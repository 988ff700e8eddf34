// Pre-tokenizers of tokenizer.json: they cut normalized text into the words that BPE merges
// within, and may rewrite them. Supported: ByteLevel (GPT-2 bytes-to-characters, optionally with
// the GPT-2 split regex), Split (a PCRE2 regex with Unicode classes, as Qwen2 and Llama 3 use),
// Metaspace (SentencePiece "▁"), and Sequence of these.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/tokenizer_json.h"

namespace lightvlm {

// A piece of text on its way to the model. `at_text_start` is true when the piece begins the
// prompt itself (not text after an added token): Metaspace's prepend_scheme "first" needs it.
struct TextPiece {
  std::string text;
  bool at_text_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the pieces `piece` becomes, in text order, none of them empty.
  virtual void Split(const TextPiece& piece, std::vector<TextPiece>& out) const = 0;

  std::vector<TextPiece> SplitAll(const std::vector<TextPiece>& pieces) const;
};

// `node` is the "pre_tokenizer" node (or a step of a Sequence); fails naming the field when the
// type or an option is unknown or malformed.
std::unique_ptr<PreTokenizer> ParsePreTokenizer(const TokenizerJson& node);

// Qwen2's split regex: the Split pattern of its tokenizer.json, the PRETOKENIZE_REGEX of
// transformers' Qwen2Tokenizer and llama.cpp's "qwen2" pre-tokenizer.
extern const char kQwen2SplitRegex[];

// When Metaspace puts a "▁" before the text: always, only at the start of the prompt (not after
// an added token), or never. Read from "prepend_scheme", or from the older "add_prefix_space".
enum class PrependScheme { kAlways, kFirst, kNever };
PrependScheme ParsePrependScheme(const TokenizerJson& metaspace);
// Metaspace's "replacement" (default "▁"), which must be exactly one character, as Hugging Face
// tokenizers requires (an empty one would match everywhere, and splitting on it never end).
std::string ParseMetaspaceReplacement(const TokenizerJson& metaspace);

// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
// themselves, the 68 others (controls, space, DEL, NBSP, soft hyphen) for U+0100 + n in byte order.
std::string BytesToByteLevelChars(std::string_view bytes);
// The bytes back, or false when `text` holds a character outside the map (then `bytes` is
// unspecified).
bool ByteLevelCharsToBytes(std::string_view text, std::string& bytes);

}  // namespace lightvlm
