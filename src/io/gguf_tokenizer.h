// The tokenizer and chat template stored in a GGUF file's metadata (tokenizer.ggml.*,
// tokenizer.chat_template), built into the same Tokenizer that tokenizer.json gives:
//  * tokenizer.ggml.model "gpt2": byte-level BPE from tokens and merges, split first by the
//    regexes llama.cpp names by tokenizer.ggml.pre ("gpt-2", "smollm", "qwen2", "llama-bpe");
//  * tokenizer.ggml.model "llama": SentencePiece style (spaces as "▁", byte fallback to <0xXX>
//    tokens) from tokens and scores: a pair of adjacent pieces merges when their concatenation
//    is a token, higher scores first, as llama.cpp's SentencePiece tokenizer does.
// Control, unknown and user-defined tokens are matched in the text before BPE (control and
// unknown ones are special: Decode(skip_special) drops them).
// The tokenizer behaves as the Hugging Face tokenizer.json of the same model, which is where it
// may differ from llama.cpp: all control tokens are matched in the text (llama.cpp only with
// parse_special), and equal SentencePiece scores are ordered by token id where llama.cpp takes
// the leftmost pair.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "io/gguf_file.h"
#include "io/tokenizer.h"

namespace lightvlm {

// Fails naming the file and the key when the metadata is missing, malformed or names a
// tokenizer model or pre-tokenizer that is not supported.
std::unique_ptr<Tokenizer> TokenizerFromGguf(const GgufFile& file);

// The special token ids and whether encoding adds bos / eos (tokenizer.ggml.*_token_id,
// add_bos_token, add_eos_token; absent ids are nullopt).
struct GgufSpecialTokens {
  std::optional<int32_t> bos;
  std::optional<int32_t> eos;
  std::optional<int32_t> unknown;
  std::optional<int32_t> padding;
  bool add_bos = false;  // default: true for "llama", false for "gpt2", as llama.cpp
  bool add_eos = false;
};
GgufSpecialTokens ReadGgufSpecialTokens(const GgufFile& file);

// tokenizer.chat_template (a Jinja template), or nullopt when the file has none.
std::optional<std::string> GgufChatTemplate(const GgufFile& file);

}  // namespace lightvlm
