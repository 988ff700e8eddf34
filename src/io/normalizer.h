// Normalizers of tokenizer.json: rewrite each stretch of prompt text (between added tokens)
// before it is pre-tokenized. Supported: Sequence, Prepend, Replace (literal pattern), NFC.
#pragma once

#include <memory>
#include <string>

#include "io/tokenizer_json.h"

namespace lightvlm {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Normalize(std::string& text) const = 0;
};

// `node` is the "normalizer" node (or a step of a Sequence); fails naming the field when the
// type or an option is unknown or malformed.
std::unique_ptr<Normalizer> ParseNormalizer(const TokenizerJson& node);

// Replaces every occurrence of `pattern` (not empty) in `text`.
void ReplaceAll(std::string& text, const std::string& pattern, const std::string& content);

// The literal of a {"String": ...} pattern node; a {"Regex": ...} pattern is rejected naming the
// node (no tokenizer we load uses one in a normalizer or decoder).
std::string LiteralPattern(const TokenizerJson& pattern);

}  // namespace lightvlm
