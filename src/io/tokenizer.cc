#include "io/tokenizer.h"

#include <algorithm>

#include "base/error.h"
#include "io/added_tokens.h"
#include "io/bpe.h"
#include "io/mapped_file.h"
#include "io/normalizer.h"
#include "io/pretokenizer.h"
#include "io/token_decoder.h"
#include "io/tokenizer_json.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

// What the post-processor adds around an encoded text when add_special is set.
struct SpecialTokenTemplate {
  std::vector<int32_t> before;  // e.g. <s>
  std::vector<int32_t> after;   // e.g. </s>
};

// TemplateProcessing's "single" template: special tokens around the one sequence "A".
SpecialTokenTemplate ParseTemplateProcessing(const TokenizerJson& node) {
  SpecialTokenTemplate result;
  const TokenizerJson single = node["single"];
  bool seen_sequence = false;
  for (size_t i = 0; i < single.ArraySize(); ++i) {
    const TokenizerJson item = single.At(i);
    if (const auto sequence = item.Find("Sequence")) {
      if ((*sequence)["id"].String() != "A") (*sequence)["id"].Invalid("must be \"A\"");
      seen_sequence = true;
      continue;
    }
    const std::string name = item["SpecialToken"]["id"].String();
    const TokenizerJson ids = node["special_tokens"][name]["ids"];
    std::vector<int32_t>& side = seen_sequence ? result.after : result.before;
    for (size_t j = 0; j < ids.ArraySize(); ++j) {
      side.push_back(static_cast<int32_t>(ids.At(j).Int()));
    }
  }
  if (!seen_sequence) single.Invalid("has no {\"Sequence\": {\"id\": \"A\"}}");
  return result;
}

SpecialTokenTemplate ParsePostProcessor(const TokenizerJson& node) {
  const std::string type = node["type"].String();
  if (type == "TemplateProcessing") return ParseTemplateProcessing(node);
  if (type == "ByteLevel") return {};  // it only adjusts offsets, which we do not report
  if (type != "Sequence") node["type"].Invalid("\"", type, "\" is not a supported post-processor");
  SpecialTokenTemplate result;
  const TokenizerJson steps = node["processors"];
  for (size_t i = 0; i < steps.ArraySize(); ++i) {
    // Each step wraps what the steps before it produced.
    SpecialTokenTemplate step = ParsePostProcessor(steps.At(i));
    result.before.insert(result.before.begin(), step.before.begin(), step.before.end());
    result.after.insert(result.after.end(), step.after.begin(), step.after.end());
  }
  return result;
}

class HfTokenizer final : public Tokenizer {
 public:
  HfTokenizer(const TokenizerJson& root, const std::string& name, const TokenIdLimit& id_limit)
      : name_(name),
        model_(BpeModel::FromJson(root["model"], id_limit)),
        added_(AddedVocabulary::FromJson(root.Find("added_tokens"), id_limit, model_)) {
    if (const auto node = root.Find("normalizer")) normalizer_ = ParseNormalizer(*node);
    if (const auto node = root.Find("pre_tokenizer")) pre_tokenizer_ = ParsePreTokenizer(*node);
    if (const auto node = root.Find("decoder")) decoder_ = ParseTokenDecoder(*node);
    if (const auto node = root.Find("post_processor")) template_ = ParsePostProcessor(*node);
    CheckTemplateIds();
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special) const override {
    if (const std::optional<size_t> bad_byte = FirstInvalidUtf8Byte(text)) {
      Fail("prompt is not valid UTF-8 at byte ", *bad_byte);
    }
    std::vector<int32_t> ids;
    if (add_special) ids = template_.before;
    for (const PromptSegment& segment : added_.Split(text)) {
      if (segment.added_token_id) {
        ids.push_back(*segment.added_token_id);
      } else {
        EncodeText(segment, ids);
      }
    }
    if (add_special) ids.insert(ids.end(), template_.after.begin(), template_.after.end());
    return ids;
  }

  std::string TokenBytes(int32_t id) const override {
    const std::string* spelling = Spelling(id);
    if (!spelling) return "";
    std::vector<std::string> tokens{*spelling};
    if (decoder_) decoder_->Decode(tokens, DecodePosition::kMidText);
    std::string bytes;
    for (const std::string& token : tokens) bytes += token;
    return bytes;
  }

  std::string Decode(const std::vector<int32_t>& ids, bool skip_special) const override {
    std::vector<std::string> tokens;
    for (int32_t id : ids) {
      const std::string* spelling = Spelling(id);
      if (spelling && !(skip_special && IsSpecial(id))) tokens.push_back(*spelling);
    }
    if (!decoder_) return JoinWithSpaces(tokens);
    decoder_->Decode(tokens, DecodePosition::kWholeText);
    std::string text;
    for (const std::string& token : tokens) text += token;
    return text;
  }

  int32_t vocab_size() const override { return std::max(model_.id_limit(), added_.id_limit()); }

  std::optional<int32_t> TokenId(std::string_view token) const override {
    if (const std::optional<int32_t> id = added_.FindId(token)) return id;
    return model_.TokenId(token);
  }

  std::string TokenText(int32_t id) const override {
    const std::string* spelling = Spelling(id);
    Check(spelling != nullptr, name_, ": token id ", id, " is not in the vocabulary");
    return *spelling;
  }

  bool IsSpecial(int32_t id) const override {
    const AddedToken* added = added_.Find(id);
    return added && added->special;
  }

 private:
  // Text between added tokens: normalized, pre-tokenized, then merged word by word. Each
  // segment is normalized on its own, as Hugging Face does: with a Prepend("▁") normalizer the
  // text after an added token gets its own "▁" ("Hello <s>world" -> ▁Hello▁ <s> ▁world).
  void EncodeText(const PromptSegment& segment, std::vector<int32_t>& ids) const {
    TextPiece normalized{std::string(segment.text), segment.at_text_start};
    if (normalizer_) normalizer_->Normalize(normalized.text);
    if (normalized.text.empty()) return;
    std::vector<TextPiece> words{std::move(normalized)};
    if (pre_tokenizer_) words = pre_tokenizer_->SplitAll(words);
    for (const TextPiece& word : words) model_.EncodeWord(word.text, ids);
  }

  // The vocabulary string of `id`, or nullptr for an id that names no token: those decode to
  // nothing, as in transformers (models often have more embedding rows than tokens).
  const std::string* Spelling(int32_t id) const {
    if (const AddedToken* added = added_.Find(id)) return &added->content;
    return model_.TokenText(id);
  }

  static std::string JoinWithSpaces(const std::vector<std::string>& tokens) {
    std::string text;
    for (size_t i = 0; i < tokens.size(); ++i) text += (i > 0 ? " " : "") + tokens[i];
    return text;
  }

  void CheckTemplateIds() const {
    for (const auto* side : {&template_.before, &template_.after}) {
      for (int32_t id : *side) {
        Check(Spelling(id) != nullptr, name_, ": post_processor names token id ", id,
              ", which is not in the vocabulary");
      }
    }
  }

  std::string name_;  // the file, for errors
  BpeModel model_;
  AddedVocabulary added_;
  std::unique_ptr<Normalizer> normalizer_;       // null: text passes unchanged
  std::unique_ptr<PreTokenizer> pre_tokenizer_;  // null: each text segment is one word
  std::unique_ptr<TokenDecoder> decoder_;        // null: tokens joined with spaces
  SpecialTokenTemplate template_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::Load(const std::string& path, const TokenIdLimit& id_limit) {
  return FromJson(ReadFileText(path), path, id_limit);
}

std::unique_ptr<Tokenizer> Tokenizer::FromJson(const std::string& json_text,
                                               const std::string& name,
                                               const TokenIdLimit& id_limit) {
  return FromDocument(TokenizerJson::ParseFile(json_text, name), name, id_limit);
}

std::unique_ptr<Tokenizer> Tokenizer::FromDocument(const nlohmann::json& root,
                                                   const std::string& name,
                                                   const TokenIdLimit& id_limit) {
  Check(root.is_object(), name, ": the top level must be a JSON object");
  return std::make_unique<HfTokenizer>(TokenizerJson(root, name, ""), name, id_limit);
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::Push(int32_t id) {
  if (skip_special_ && tokenizer_.IsSpecial(id)) return "";
  pending_ += tokenizer_.TokenBytes(id);
  const size_t complete = pending_.size() - IncompleteUtf8TailLength(pending_);
  std::string text = ReplaceInvalidUtf8(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return text;
}

std::string StreamDecoder::Finish() {
  std::string text = ReplaceInvalidUtf8(pending_);
  pending_.clear();
  return text;
}

WholeTextStream::WholeTextStream(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string WholeTextStream::Next(bool final) {
  const std::string text = tokenizer_.Decode(ids_, skip_special_);
  // Decode writes U+FFFD for bytes that do not yet form a character: wait for the next token.
  constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  if (!final && std::string_view(text).ends_with(kReplacement)) return "";
  if (text.size() <= sent_) return "";
  std::string piece = text.substr(sent_);
  sent_ = text.size();
  return piece;
}

std::string WholeTextStream::Push(int32_t id) {
  ids_.push_back(id);
  return Next(/*final=*/false);
}

std::string WholeTextStream::Finish() { return Next(/*final=*/true); }

}  // namespace lightvlm
