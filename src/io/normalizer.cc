#include "io/normalizer.h"

#include <vector>

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

// Unicode NFC (Qwen2). Composition needs the Unicode tables (ICU), which we do not link: text
// passes through unchanged. That is exact for ASCII and for text already in NFC, which is what
// keyboards and most sources produce; decomposed input (e.g. "e" + U+0301) encodes differently
// from Hugging Face tokenizers.
class NfcNormalizer : public Normalizer {
 public:
  void Normalize(std::string&) const override {}
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
