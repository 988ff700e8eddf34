// The files transformers' slow tokenizers keep beside their vocabulary (vocab.json + merges.txt,
// or SentencePiece's tokenizer.model): tokenizer_config.json, added_tokens.json and
// special_tokens_map.json. They give the added tokens (matched in the text before the model sees
// it), which tokens are special, and whether encoding adds bos / eos. Read as transformers 4.46
// reads them: tokenizer_config.json's added_tokens_decoder when present; else added_tokens.json,
// whose tokens are special when a special-token field names them (tokenizer_config.json, then
// special_tokens_map.json over it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace lightvlm {

struct SlowTokenizerConfig {
  // In tokenizer.json's "added_tokens" form: [{"id", "content", "special", "lstrip", ...}].
  nlohmann::json added_tokens = nlohmann::json::array();
  std::string added_tokens_source;  // file and field they came from, for errors
  struct NamedToken {
    std::string content;
    std::string source;  // "<file>: <field>", for errors
  };
  std::vector<NamedToken> special_tokens;  // bos_token, eos_token, ..., additional_special_tokens
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<std::string> tokenizer_class;
  std::string tokenizer_config_path;  // tokenizer_config.json's path, for errors ("" when absent)
};

// Reads whichever of the three files exist in `directory` (none is required); fails naming the
// file and field that is malformed.
SlowTokenizerConfig ReadSlowTokenizerConfig(const std::string& directory);

// The added tokens together with every special token a field names that is not among them but is
// in the model's vocabulary (`model_id` finds it), as transformers adds those: "<s>" in a prompt
// is then bos, not text. Fails naming the field when a special token is in neither. A token is
// special (dropped by Decode(skip_special)) when a field names it, as the slow tokenizers' decode
// drops all_special_ids; added_tokens_decoder's "special" flag, which only the fast tokenizers
// follow there, is overridden.
nlohmann::json AddedAndSpecialTokens(
    const SlowTokenizerConfig& config,
    const std::function<std::optional<int32_t>(std::string_view)>& model_id);

}  // namespace lightvlm
