// tokenizer.json's "added_tokens": strings (special markers such as <s> or <|im_start|>, and
// any tokens added after training) that are found in the prompt before the normalizer and model
// see it, each mapping straight to its id.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/model_vocabulary.h"
#include "io/tokenizer.h"
#include "io/tokenizer_json.h"

namespace lightvlm {

struct AddedToken {
  int32_t id;
  std::string content;
  bool special;      // dropped by Decode(skip_special)
  bool lstrip;       // a match also takes the whitespace before it
  bool rstrip;       // a match also takes the whitespace after it
  bool single_word;  // matches only when not inside a word
};

// A stretch of the prompt: one added token, or text for the normalizer and model.
struct PromptSegment {
  std::string_view text;
  std::optional<int32_t> added_token_id;  // nullopt for text
  bool at_text_start;                     // begins at byte 0 of the prompt
};

class AddedVocabulary {
 public:
  // `added_tokens` is the "added_tokens" node (absent means none), or an array in its form built
  // from another file. Fails naming the element whose id clashes with the model's vocabulary or
  // with another added token.
  static AddedVocabulary FromJson(const std::optional<TokenizerJson>& added_tokens,
                                  const TokenIdLimit& id_limit, const ModelVocabulary& model);

  // Cuts the prompt at added tokens: at each position the longest token that matches wins.
  // Every token is matched in the raw prompt, also those marked "normalized" (Hugging Face
  // matches those in normalized text; no tokenizer we load has a normalized added token whose
  // content a normalizer would change).
  std::vector<PromptSegment> Split(std::string_view prompt) const;

  const AddedToken* Find(int32_t id) const;
  std::optional<int32_t> FindId(std::string_view content) const;
  int32_t id_limit() const { return id_limit_; }

 private:
  void Add(const TokenizerJson& node, const TokenIdLimit& id_limit, const ModelVocabulary& model);
  // The token matching at `pos`, with [begin, end) widened by lstrip / rstrip; begin never goes
  // below `floor`, the end of the previous match.
  struct Match {
    const AddedToken* token;
    size_t begin;
    size_t end;
  };
  std::optional<Match> MatchAt(std::string_view prompt, size_t pos, size_t floor) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> index_of_id_;     // into tokens_
  std::array<std::vector<size_t>, 256> by_first_byte_;  // into tokens_, longest content first
  int32_t id_limit_ = 0;                                // largest id + 1
};

}  // namespace lightvlm
