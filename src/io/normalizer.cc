#include "io/normalizer.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include <utf8proc.h>

#include "base/error.h"

namespace lightvlm {
namespace {

// SentencePiece style: a "▁" before the text, so its first word looks like every other word.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(const TokenizerJson& node) : prefix_(node["prepend"].String()) {}

  void Normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  explicit ReplaceNormalizer(const TokenizerJson& node)
      : pattern_(LiteralPattern(node["pattern"])), content_(node["content"].String()) {}

  void Normalize(std::string& text) const override { ReplaceAll(text, pattern_, content_); }

 private:
  std::string pattern_;
  std::string content_;
};

// Unicode NFC (Qwen2), by utf8proc's tables: "e" + U+0301 becomes "é", as Hugging Face tokenizers
// compose it. Text reaches here as valid UTF-8 (checked at the prompt).
class NfcNormalizer : public Normalizer {
 public:
  void Normalize(std::string& text) const override {
    if (std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; })) return;
    utf8proc_uint8_t* composed = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &composed,
                     static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    Check(length >= 0, "NFC normalization: ", utf8proc_errmsg(length));
    text.assign(reinterpret_cast<const char*>(composed), static_cast<size_t>(length));
    std::free(composed);
  }
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(const TokenizerJson& node) {
    const TokenizerJson steps = node["normalizers"];
    for (size_t i = 0; i < steps.ArraySize(); ++i) steps_.push_back(ParseNormalizer(steps.At(i)));
  }

  void Normalize(std::string& text) const override {
    for (const auto& step : steps_) step->Normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> ParseNormalizer(const TokenizerJson& node) {
  const std::string type = node["type"].String();
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(node);
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(node);
  if (type == "NFC") return std::make_unique<NfcNormalizer>();
  if (type == "Sequence") return std::make_unique<SequenceNormalizer>(node);
  node["type"].Invalid("\"", type, "\" is not a supported normalizer");
}

void ReplaceAll(std::string& text, const std::string& pattern, const std::string& content) {
  // An empty pattern is found at every position, forever; the parsers reject one.
  Check(!pattern.empty(), "ReplaceAll: empty pattern");
  size_t pos = text.find(pattern);
  if (pos == std::string::npos) return;
  std::string replaced;
  size_t copied = 0;
  for (; pos != std::string::npos; pos = text.find(pattern, copied)) {
    replaced.append(text, copied, pos - copied).append(content);
    copied = pos + pattern.size();
  }
  text = std::move(replaced.append(text, copied));
}

std::string LiteralPattern(const TokenizerJson& pattern) {
  if (pattern.Find("Regex")) pattern["Regex"].Invalid("is not supported here; only \"String\"");
  const std::string literal = pattern["String"].String();
  if (literal.empty()) pattern["String"].Invalid("must not be empty");
  return literal;
}

}  // namespace lightvlm
