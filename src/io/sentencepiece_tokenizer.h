// SentencePiece's tokenizer.model (InternLM2 ships only that; Llama 2 checkpoints without
// tokenizer.json) through Debian's libsentencepiece, used as transformers' slow LlamaTokenizer
// (legacy) and InternLM2Tokenizer use it:
//  * encode: added and special tokens (io/tokenizer_config.h) are cut out of the text first and
//    each stretch between them is encoded by SentencePiece on its own (so each gets its own
//    dummy-prefix "▁"); bos goes first unless add_bos_token is false, eos last only when
//    add_eos_token is true;
//  * decode: SentencePiece decodes each run of model pieces ("▁" to spaces, <0xXX> pieces to
//    bytes, the run's leading dummy-prefix space dropped) and added tokens stand verbatim between
//    runs. With skip_special the special ones are dropped first, as the slow tokenizers drop
//    them, so the runs on either side decode as one: transformers' decode(skip_special_tokens=
//    True) exactly. Without it the slow classes differ among themselves (LlamaTokenizer puts a
//    space before <s> after text, InternLM2Tokenizer its own rule); this follows neither.
#pragma once

#include <memory>
#include <string>

#include "io/tokenizer.h"
#include "io/tokenizer_config.h"

namespace lightvlm {

// Fails naming the file when it is not a SentencePiece model, when it holds more pieces than
// `id_limit` allows, or naming the json file and field of a malformed added or special token.
std::unique_ptr<Tokenizer> LoadSentencePieceTokenizer(const std::string& directory,
                                                      const TokenIdLimit& id_limit);

// The same from tokenizer.model's bytes; `model_name` names it in errors.
std::unique_ptr<Tokenizer> SentencePieceTokenizer(const std::string& model_proto,
                                                  const std::string& model_name,
                                                  const SlowTokenizerConfig& config,
                                                  const TokenIdLimit& id_limit);

}  // namespace lightvlm
