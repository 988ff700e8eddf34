#include "io/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

#include "base/error.h"
#include "io/added_tokens.h"
#include "io/mapped_file.h"
#include "io/model_vocabulary.h"
#include "io/normalizer.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

// The model's pieces, for the added tokens' checks.
class PieceVocabulary final : public ModelVocabulary {
 public:
  explicit PieceVocabulary(const sentencepiece::SentencePieceProcessor& processor)
      : processor_(processor) {}

  std::optional<int32_t> TokenId(std::string_view token) const override {
    // PieceToId answers unk_id for a string that is no piece: compare to tell them apart.
    const int id = processor_.PieceToId(token);
    if (id < 0 || id >= id_limit() || processor_.IdToPiece(id) != token) return std::nullopt;
    return id;
  }
  const std::string* TokenText(int32_t id) const override {
    if (id < 0 || id >= id_limit()) return nullptr;
    return &processor_.IdToPiece(id);
  }
  int32_t id_limit() const override { return processor_.GetPieceSize(); }

 private:
  const sentencepiece::SentencePieceProcessor& processor_;
};

// The special tokens LlamaTokenizer and InternLM2Tokenizer name by default (<unk>, <s>, </s>):
// the model's own unk, bos and eos pieces, for a config that does not name them.
SlowTokenizerConfig WithDefaultSpecialTokens(SlowTokenizerConfig config,
                                             const sentencepiece::SentencePieceProcessor& sp) {
  const auto piece = [&](int id) -> std::optional<std::string> {
    if (id < 0 || id >= sp.GetPieceSize()) return std::nullopt;
    return sp.IdToPiece(id);
  };
  const auto add_default = [&](std::optional<std::string> content) {
    const bool named = std::ranges::any_of(config.special_tokens, [&](const auto& token) {
      return content && token.content == *content;
    });
    if (content && !named) config.special_tokens.push_back({*content, "tokenizer.model"});
  };
  if (!config.bos_token) config.bos_token = piece(sp.bos_id());
  if (!config.eos_token) config.eos_token = piece(sp.eos_id());
  add_default(config.bos_token);
  add_default(config.eos_token);
  add_default(piece(sp.unk_id()));
  return config;
}

class SentencePieceModelTokenizer final : public Tokenizer {
 public:
  SentencePieceModelTokenizer(const std::string& model_proto, const std::string& name,
                              const SlowTokenizerConfig& file_config, const TokenIdLimit& id_limit)
      : name_(name), pieces_(processor_) {
    const sentencepiece::util::Status status = processor_.LoadFromSerializedProto(model_proto);
    Check(status.ok(), name, ": not a SentencePiece model (", status.ToString(), ")");
    Check(processor_.GetPieceSize() <= id_limit.size, name, ": ", processor_.GetPieceSize(),
          " pieces are more than ", id_limit.size, " (", id_limit.source, ")");
    const SlowTokenizerConfig config = WithDefaultSpecialTokens(file_config, processor_);
    const nlohmann::json added_tokens = AddedAndSpecialTokens(
        config, [&](std::string_view content) { return pieces_.TokenId(content); });
    const std::string added_source =
        config.added_tokens_source.empty() ? name : config.added_tokens_source;
    added_ = AddedVocabulary::FromJson(TokenizerJson(added_tokens, added_source, "added_tokens"),
                                       id_limit, pieces_);
    if (config.add_bos_token.value_or(true) && config.bos_token)
      bos_ = SpecialId(*config.bos_token);
    if (config.add_eos_token.value_or(false) && config.eos_token)
      eos_ = SpecialId(*config.eos_token);
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special) const override {
    if (const std::optional<size_t> bad_byte = FirstInvalidUtf8Byte(text)) {
      Fail("prompt is not valid UTF-8 at byte ", *bad_byte);
    }
    std::vector<int32_t> ids;
    if (add_special && bos_) ids.push_back(*bos_);
    for (const PromptSegment& segment : added_.Split(text)) {
      if (segment.added_token_id) {
        ids.push_back(*segment.added_token_id);
        continue;
      }
      std::vector<int> piece_ids;
      const sentencepiece::util::Status status = processor_.Encode(segment.text, &piece_ids);
      Check(status.ok(), name_, ": SentencePiece could not encode the prompt (", status.ToString(),
            ")");
      ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
    }
    if (add_special && eos_) ids.push_back(*eos_);
    return ids;
  }

  std::string TokenBytes(int32_t id) const override {
    if (const AddedToken* added = added_.Find(id)) return added->content;
    if (!pieces_.TokenText(id) || processor_.IsControl(id) || processor_.IsUnused(id)) return "";
    const std::string& piece = processor_.IdToPiece(id);
    if (processor_.IsByte(id)) {  // "<0xAB>"
      return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    std::string bytes = piece;
    ReplaceAll(bytes, "\u2581", " ");  // SentencePiece's "▁" stands for a space
    return bytes;
  }

  std::string Decode(const std::vector<int32_t>& ids, bool skip_special) const override {
    std::string text;
    std::vector<int> run;  // model pieces decoded together
    const auto flush = [&] {
      if (run.empty()) return;
      std::string run_text;
      const sentencepiece::util::Status status = processor_.Decode(run, &run_text);
      Check(status.ok(), name_, ": SentencePiece could not decode (", status.ToString(), ")");
      text += run_text;
      run.clear();
    };
    for (int32_t id : ids) {
      if (const AddedToken* added = added_.Find(id)) {
        if (skip_special && added->special) continue;
        flush();
        text += added->content;
      } else if (pieces_.TokenText(id) && !(skip_special && IsSpecial(id))) {
        run.push_back(id);
      }
    }
    flush();
    return text;
  }

  int32_t vocab_size() const override { return std::max(pieces_.id_limit(), added_.id_limit()); }

  std::optional<int32_t> TokenId(std::string_view token) const override {
    if (const std::optional<int32_t> id = added_.FindId(token)) return id;
    return pieces_.TokenId(token);
  }

  std::string TokenText(int32_t id) const override {
    if (const AddedToken* added = added_.Find(id)) return added->content;
    const std::string* piece = pieces_.TokenText(id);
    Check(piece != nullptr, name_, ": token id ", id, " is not in the vocabulary");
    return *piece;
  }

  bool IsSpecial(int32_t id) const override {
    if (const AddedToken* added = added_.Find(id)) return added->special;
    return pieces_.TokenText(id) && processor_.IsControl(id);
  }

 private:
  int32_t SpecialId(const std::string& content) const {
    const std::optional<int32_t> id = TokenId(content);
    Check(id.has_value(), name_, ": special token \"", content, "\" is not in the vocabulary");
    return *id;
  }

  std::string name_;  // tokenizer.model's path, for errors
  sentencepiece::SentencePieceProcessor processor_;
  PieceVocabulary pieces_;
  AddedVocabulary added_;
  std::optional<int32_t> bos_;  // added first by Encode(add_special)
  std::optional<int32_t> eos_;  // added last by Encode(add_special)
};

}  // namespace

std::unique_ptr<Tokenizer> SentencePieceTokenizer(const std::string& model_proto,
                                                  const std::string& model_name,
                                                  const SlowTokenizerConfig& config,
                                                  const TokenIdLimit& id_limit) {
  return std::make_unique<SentencePieceModelTokenizer>(model_proto, model_name, config, id_limit);
}

std::unique_ptr<Tokenizer> LoadSentencePieceTokenizer(const std::string& directory,
                                                      const TokenIdLimit& id_limit) {
  const std::string path = (std::filesystem::path(directory) / "tokenizer.model").string();
  return SentencePieceTokenizer(ReadFileText(path), path, ReadSlowTokenizerConfig(directory),
                                id_limit);
}

}  // namespace lightvlm
