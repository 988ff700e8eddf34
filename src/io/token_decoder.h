// Decoders of tokenizer.json: turn the vocabulary strings of generated tokens back into text.
// Supported: ByteLevel, Replace (literal), ByteFallback, Fuse, Strip, Metaspace, Sequence.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer_json.h"

namespace lightvlm {

// Where the tokens being decoded sit. kWholeText is a full decode, as transformers' decode()
// gives it. kMidText is for tokens that continue a text (TokenBytes, streaming): start-of-text
// rules (stripping the space SentencePiece prepends) do not apply, and bytes stay raw so that a
// character whose bytes span several tokens survives until it is whole.
enum class DecodePosition { kWholeText, kMidText };

class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  // Rewrites `tokens` in place; a step may merge them (Fuse, ByteLevel join all into one).
  virtual void Decode(std::vector<std::string>& tokens, DecodePosition position) const = 0;
};

// `node` is the "decoder" node (or a step of a Sequence); fails naming the field when the type
// or an option is unknown or malformed.
std::unique_ptr<TokenDecoder> ParseTokenDecoder(const TokenizerJson& node);

}  // namespace lightvlm
