// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): a vocabulary, merge rules
// ranked by their order in the file, and what to do with characters the vocabulary lacks
// (byte fallback to <0xXX> tokens, or the unknown token).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/model_vocabulary.h"
#include "io/tokenizer.h"
#include "io/tokenizer_json.h"

namespace lightvlm {

class BpeModel final : public ModelVocabulary {
 public:
  // `model` is the "model" node; fails naming the field that is malformed.
  static BpeModel FromJson(const TokenizerJson& model, const TokenIdLimit& id_limit);

  // Appends the ids of one pre-tokenized word (valid UTF-8, not empty).
  void EncodeWord(std::string_view word, std::vector<int32_t>& ids) const;

  std::optional<int32_t> TokenId(std::string_view token) const override;
  const std::string* TokenText(int32_t id) const override;
  int32_t id_limit() const override { return static_cast<int32_t>(tokens_by_id_.size()); }

 private:
  // Heterogeneous lookup: words arrive as string_views into the prompt.
  struct StringHash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  using Vocabulary = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  struct Merge {
    int32_t rank;       // position in model.merges: lower merges first
    int32_t merged_id;  // id of the concatenated token
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Merge* FindMerge(int32_t left, int32_t right) const;

  void ReadVocabulary(const TokenizerJson& vocab, const TokenIdLimit& id_limit);
  void ReadMerges(const TokenizerJson& merges);
  void ReadUnknownHandling(const TokenizerJson& model);
  // The symbols a word starts from: one per character, byte tokens or <unk> where needed.
  std::vector<int32_t> InitialSymbols(std::string_view word) const;
  std::vector<int32_t> ApplyMerges(const std::vector<int32_t>& initial_ids) const;

  Vocabulary vocab_;
  std::vector<std::optional<std::string>> tokens_by_id_;  // [id_limit]; nullopt for unused ids
  std::unordered_map<uint64_t, Merge> merges_;            // keyed by PairKey(left, right)
  std::optional<int32_t> unknown_id_;
  bool fuse_unknown_ = false;  // consecutive unknown characters become one <unk>
  bool byte_fallback_ = false;
  std::array<int32_t, 256> byte_token_ids_{};  // ids of <0x00>..<0xFF>; -1 where missing
  bool ignore_merges_ = false;  // a word found whole in the vocabulary is one token (Llama 3)
};

}  // namespace lightvlm
