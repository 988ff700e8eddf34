// Qwen2's slow-tokenizer files, vocab.json + merges.txt (what a checkpoint ships without
// tokenizer.json): the byte-level BPE of transformers' Qwen2Tokenizer (NFC, Qwen2's split regex,
// GPT-2's bytes-to-characters map, no bos or eos added), built as the tokenizer.json document
// that Qwen2TokenizerFast converts these files into, so that one BPE implementation serves both.
// Added and special tokens come from tokenizer_config.json / added_tokens.json
// (io/tokenizer_config.h).
#pragma once

#include <memory>
#include <string>

#include "io/tokenizer.h"
#include "io/tokenizer_config.h"

namespace lightvlm {

// Fails naming the file (and the line of merges.txt) that is malformed, and when
// tokenizer_config.json names a tokenizer_class other than Qwen2's.
std::unique_ptr<Tokenizer> LoadVocabMergesTokenizer(const std::string& directory,
                                                    const TokenIdLimit& id_limit);

// The same from the two files' text; `vocab_name` and `merges_name` name them in errors.
std::unique_ptr<Tokenizer> VocabMergesTokenizer(const std::string& vocab_json,
                                                const std::string& vocab_name,
                                                const std::string& merges_txt,
                                                const std::string& merges_name,
                                                const SlowTokenizerConfig& config,
                                                const TokenIdLimit& id_limit);

}  // namespace lightvlm
