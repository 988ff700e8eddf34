#include "io/bpe.h"

#include <cstdio>
#include <queue>

#include "base/error.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

// A merge waiting in the queue: the pair starting at symbol `left` merges with `rank`.
struct MergeCandidate {
  int32_t rank;
  int32_t left;
  // std::priority_queue pops the largest: make that the lowest rank, then the leftmost pair.
  bool operator<(const MergeCandidate& other) const {
    return rank != other.rank ? rank > other.rank : left > other.left;
  }
};

// A symbol of the word being merged, linked to its live neighbours (-1 at the ends).
struct Symbol {
  int32_t id;
  int32_t prev;
  int32_t next;
  bool merged_away = false;
};

std::string ByteTokenText(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "<0x%02X>", byte);
  return text;
}

// A merge written "left right" or ["left", "right"]; nullopt when it is neither.
std::optional<std::pair<std::string, std::string>> MergePair(const nlohmann::json& merge) {
  if (merge.is_array()) {
    if (merge.size() != 2 || !merge[0].is_string() || !merge[1].is_string()) return std::nullopt;
    return std::pair(merge[0].get<std::string>(), merge[1].get<std::string>());
  }
  if (!merge.is_string()) return std::nullopt;
  const std::string& text = merge.get_ref<const std::string&>();
  const size_t space = text.find(' ');
  if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
    return std::nullopt;
  }
  return std::pair(text.substr(0, space), text.substr(space + 1));
}

}  // namespace

BpeModel BpeModel::FromJson(const TokenizerJson& model, const TokenIdLimit& id_limit) {
  const std::string type = model["type"].String();
  if (type != "BPE") model["type"].Invalid("is \"", type, "\"; only \"BPE\" is supported");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!model.StringOr(affix, "").empty()) model[affix].Invalid("is not supported");
  }
  if (const auto dropout = model.Find("dropout"); dropout && dropout->value() != 0) {
    dropout->Invalid("is not supported: it would make encoding random");
  }
  BpeModel bpe;
  bpe.ReadVocabulary(model["vocab"], id_limit);
  bpe.ReadMerges(model["merges"]);
  bpe.ReadUnknownHandling(model);
  bpe.ignore_merges_ = model.BoolOr("ignore_merges", false);
  return bpe;
}

// The loops below read the JSON directly and build a field path only for an error: a large
// vocabulary has 150k entries and as many merges.
void BpeModel::ReadVocabulary(const TokenizerJson& vocab, const TokenIdLimit& id_limit) {
  if (!vocab.value().is_object()) vocab.Invalid("must be an object of token: id");
  int64_t largest_id = -1;
  for (const auto& [token, id_node] : vocab.value().items()) {
    if (!id_node.is_number_integer()) vocab[token].Invalid("must be an integer id");
    const int64_t id = id_node.get<int64_t>();
    if (id < 0 || id >= id_limit.size) {
      vocab[token].Invalid("has id ", id, " outside 0..", id_limit.size - 1, " (", id_limit.source,
                           ")");
    }
    largest_id = std::max(largest_id, id);
  }
  tokens_by_id_.resize(largest_id + 1);
  for (const auto& [token, id_node] : vocab.value().items()) {
    const auto id = id_node.get<int64_t>();
    std::optional<std::string>& slot = tokens_by_id_[id];
    if (slot) vocab.Invalid("gives id ", id, " to both \"", *slot, "\" and \"", token, "\"");
    slot = token;
    vocab_.emplace(token, static_cast<int32_t>(id));
  }
}

void BpeModel::ReadMerges(const TokenizerJson& merges) {
  const size_t count = merges.ArraySize();
  merges_.reserve(count);
  for (size_t rank = 0; rank < count; ++rank) {
    const auto pair = MergePair(merges.value()[rank]);
    if (!pair) merges.At(rank).Invalid("must be \"left right\" or [\"left\", \"right\"]");
    const auto& [left, right] = *pair;
    const std::string merged = left + right;
    for (const std::string* token : {&left, &right, &merged}) {
      if (!TokenId(*token)) {
        merges.At(rank).Invalid("names \"", *token, "\", which is not in model.vocab");
      }
    }
    // A repeated pair keeps its first (lowest) rank, as the file's order says.
    merges_.try_emplace(PairKey(*TokenId(left), *TokenId(right)),
                        Merge{static_cast<int32_t>(rank), *TokenId(merged)});
  }
}

void BpeModel::ReadUnknownHandling(const TokenizerJson& model) {
  if (const auto unknown = model.Find("unk_token")) {
    unknown_id_ = TokenId(unknown->String());
    if (!unknown_id_) unknown->Invalid("(\"", unknown->String(), "\") is not in model.vocab");
  }
  fuse_unknown_ = model.BoolOr("fuse_unk", false);
  byte_fallback_ = model.BoolOr("byte_fallback", false);
  for (int byte = 0; byte < 256; ++byte) {
    byte_token_ids_[byte] = TokenId(ByteTokenText(static_cast<unsigned char>(byte))).value_or(-1);
  }
}

std::optional<int32_t> BpeModel::TokenId(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::TokenText(int32_t id) const {
  if (id < 0 || id >= id_limit() || !tokens_by_id_[id]) return nullptr;
  return &*tokens_by_id_[id];
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  const auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    if (const std::optional<int32_t> whole = TokenId(word)) {
      ids.push_back(*whole);
      return;
    }
  }
  const std::vector<int32_t> merged = ApplyMerges(InitialSymbols(word));
  ids.insert(ids.end(), merged.begin(), merged.end());
}

std::vector<int32_t> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<int32_t> symbols;
  bool previous_was_unknown = false;
  ForEachUtf8Char(word, [&](std::string_view character) {
    if (const std::optional<int32_t> id = TokenId(character)) {
      symbols.push_back(*id);
      previous_was_unknown = false;
      return;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (char byte : character) all_bytes_known &= byte_token_ids_[uint8_t(byte)] >= 0;
      if (all_bytes_known) {
        for (char byte : character) symbols.push_back(byte_token_ids_[uint8_t(byte)]);
        previous_was_unknown = false;
        return;
      }
    }
    // Without an unknown token the character is dropped, as Hugging Face tokenizers does.
    if (!unknown_id_ || (fuse_unknown_ && previous_was_unknown)) return;
    symbols.push_back(*unknown_id_);
    previous_was_unknown = true;
  });
  return symbols;
}

// Standard BPE: repeatedly merge the adjacent pair with the lowest rank (leftmost on ties). A
// queue of candidate pairs keeps this O(n log n); candidates made stale by an earlier merge are
// recognised when popped because their pair no longer merges with the same rank.
std::vector<int32_t> BpeModel::ApplyMerges(const std::vector<int32_t>& initial_ids) const {
  const auto count = static_cast<int32_t>(initial_ids.size());
  std::vector<Symbol> symbols;
  symbols.reserve(count);
  for (int32_t i = 0; i < count; ++i) {
    symbols.push_back({initial_ids[i], i - 1, i + 1 < count ? i + 1 : -1});
  }
  std::priority_queue<MergeCandidate> queue;
  const auto enqueue = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Merge* merge = FindMerge(symbols[left].id, symbols[symbols[left].next].id);
    if (merge) queue.push({merge->rank, left});
  };
  for (int32_t i = 0; i + 1 < count; ++i) enqueue(i);
  while (!queue.empty()) {
    const MergeCandidate candidate = queue.top();
    queue.pop();
    Symbol& left = symbols[candidate.left];
    if (left.merged_away || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const Merge* merge = FindMerge(left.id, right.id);
    if (!merge || merge->rank != candidate.rank) continue;
    left.id = merge->merged_id;
    left.next = right.next;
    right.merged_away = true;
    if (left.next >= 0) symbols[left.next].prev = candidate.left;
    enqueue(left.prev);
    enqueue(candidate.left);
  }
  std::vector<int32_t> merged;
  for (int32_t i = count > 0 ? 0 : -1; i >= 0; i = symbols[i].next) merged.push_back(symbols[i].id);
  return merged;
}

}  // namespace lightvlm
