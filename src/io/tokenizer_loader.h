// The tokenizer of a checkpoint directory, from whichever files it ships, in the order
// transformers prefers them: tokenizer.json; else vocab.json + merges.txt (Qwen2's slow files);
// else SentencePiece's tokenizer.model (InternLM2, Llama 2). The last two read their added and
// special tokens from tokenizer_config.json / added_tokens.json / special_tokens_map.json.
#pragma once

#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace lightvlm {

// Fails naming the directory and the files looked for when it has none of them, else as the
// chosen loader does (naming the file at fault).
std::unique_ptr<Tokenizer> LoadTokenizer(const std::string& directory,
                                         const TokenIdLimit& id_limit = {});

}  // namespace lightvlm
