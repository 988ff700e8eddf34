#include "io/added_tokens.h"

#include <algorithm>
#include <cctype>

namespace lightvlm {
namespace {

bool IsAsciiWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A character that continues a word, for single_word tokens. Non-ASCII characters count as word
// characters: an approximation of Unicode's alphanumeric class that is right for letters.
bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x80 || std::isalnum(byte) || c == '_';
}

}  // namespace

AddedVocabulary AddedVocabulary::FromJson(const std::optional<TokenizerJson>& added_tokens,
                                          const TokenIdLimit& id_limit,
                                          const ModelVocabulary& model) {
  AddedVocabulary vocabulary;
  vocabulary.id_limit_ = model.id_limit();
  if (!added_tokens) return vocabulary;
  for (size_t i = 0; i < added_tokens->ArraySize(); ++i)
    vocabulary.Add(added_tokens->At(i), id_limit, model);
  for (std::vector<size_t>& candidates : vocabulary.by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) {
      return vocabulary.tokens_[a].content.size() > vocabulary.tokens_[b].content.size();
    });
  }
  return vocabulary;
}

void AddedVocabulary::Add(const TokenizerJson& node, const TokenIdLimit& id_limit,
                          const ModelVocabulary& model) {
  const int64_t id = node["id"].Int();
  const std::string content = node["content"].String();
  if (id < 0 || id >= id_limit.size) {
    node["id"].Invalid("(", id, ") is outside 0..", id_limit.size - 1, " (", id_limit.source, ")");
  }
  if (content.empty()) node["content"].Invalid("must not be empty");
  const auto token_id = static_cast<int32_t>(id);
  if (const std::string* vocab_text = model.TokenText(token_id);
      vocab_text && *vocab_text != content) {
    node["id"].Invalid("(", id, ") is \"", *vocab_text, "\" in model.vocab, not \"", content, "\"");
  }
  if (const auto vocab_id = model.TokenId(content); vocab_id && *vocab_id != token_id) {
    node["id"].Invalid("(", id, ") differs from model.vocab's id ", *vocab_id, " for \"", content,
                       "\"");
  }
  if (index_of_id_.contains(token_id)) {
    node["id"].Invalid("(", id, ") is used twice in added_tokens");
  }
  index_of_id_.emplace(token_id, tokens_.size());
  by_first_byte_[static_cast<uint8_t>(content[0])].push_back(tokens_.size());
  tokens_.push_back({token_id, content, node.BoolOr("special", false), node.BoolOr("lstrip", false),
                     node.BoolOr("rstrip", false), node.BoolOr("single_word", false)});
  id_limit_ = std::max(id_limit_, token_id + 1);
}

const AddedToken* AddedVocabulary::Find(int32_t id) const {
  const auto it = index_of_id_.find(id);
  return it == index_of_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::FindId(std::string_view content) const {
  if (content.empty()) return std::nullopt;
  for (size_t index : by_first_byte_[static_cast<uint8_t>(content[0])]) {
    if (tokens_[index].content == content) return tokens_[index].id;
  }
  return std::nullopt;
}

std::optional<AddedVocabulary::Match> AddedVocabulary::MatchAt(std::string_view prompt, size_t pos,
                                                               size_t floor) const {
  for (size_t index : by_first_byte_[static_cast<uint8_t>(prompt[pos])]) {
    const AddedToken& token = tokens_[index];
    if (!prompt.substr(pos).starts_with(token.content)) continue;
    size_t begin = pos;
    size_t end = pos + token.content.size();
    if (token.single_word && ((begin > 0 && IsWordByte(prompt[begin - 1])) ||
                              (end < prompt.size() && IsWordByte(prompt[end])))) {
      continue;
    }
    while (token.lstrip && begin > floor && IsAsciiWhitespace(prompt[begin - 1])) --begin;
    while (token.rstrip && end < prompt.size() && IsAsciiWhitespace(prompt[end])) ++end;
    return Match{&token, begin, end};
  }
  return std::nullopt;
}

std::vector<PromptSegment> AddedVocabulary::Split(std::string_view prompt) const {
  std::vector<PromptSegment> segments;
  size_t text_begin = 0;
  const auto add_text_until = [&](size_t end) {
    if (end > text_begin) {
      segments.push_back(
          {prompt.substr(text_begin, end - text_begin), std::nullopt, text_begin == 0});
    }
  };
  // Byte steps are safe: a token's content starts with a lead byte, never inside a character.
  for (size_t pos = 0; pos < prompt.size();) {
    const std::optional<Match> match = MatchAt(prompt, pos, text_begin);
    if (!match) {
      ++pos;
      continue;
    }
    add_text_until(match->begin);
    segments.push_back({prompt.substr(match->begin, match->end - match->begin), match->token->id,
                        match->begin == 0});
    text_begin = pos = match->end;
  }
  add_text_until(prompt.size());
  return segments;
}

}  // namespace lightvlm
