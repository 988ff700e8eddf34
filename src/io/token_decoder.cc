#include "io/token_decoder.h"

#include <charconv>
#include <optional>
#include <system_error>

#include "io/normalizer.h"
#include "io/pretokenizer.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

std::string Concatenate(const std::vector<std::string>& tokens) {
  std::string text;
  for (const std::string& token : tokens) text += token;
  return text;
}

// GPT-2 byte-level characters back to bytes; a token with other characters (an added token
// such as "<|im_start|>" may have them) keeps its own bytes.
class ByteLevelDecoder : public TokenDecoder {
 public:
  void Decode(std::vector<std::string>& tokens, DecodePosition position) const override {
    std::string text;
    std::string bytes;
    for (const std::string& token : tokens) {
      text += ByteLevelCharsToBytes(token, bytes) ? bytes : token;
    }
    if (position == DecodePosition::kWholeText) text = ReplaceInvalidUtf8(text);
    tokens = {std::move(text)};
  }
};

class ReplaceDecoder : public TokenDecoder {
 public:
  explicit ReplaceDecoder(const TokenizerJson& node)
      : pattern_(LiteralPattern(node["pattern"])), content_(node["content"].String()) {}

  void Decode(std::vector<std::string>& tokens, DecodePosition) const override {
    for (std::string& token : tokens) ReplaceAll(token, pattern_, content_);
  }

 private:
  std::string pattern_;
  std::string content_;
};

// Tokens "<0x00>".."<0xFF>" become their byte. In a whole text, each run of such tokens must
// form valid UTF-8, else every byte of the run becomes U+FFFD (as Hugging Face does).
class ByteFallbackDecoder : public TokenDecoder {
 public:
  void Decode(std::vector<std::string>& tokens, DecodePosition position) const override {
    std::vector<std::string> decoded;
    std::string byte_run;
    const auto flush_byte_run = [&] {
      if (byte_run.empty()) return;
      if (position == DecodePosition::kMidText || !FirstInvalidUtf8Byte(byte_run)) {
        decoded.push_back(byte_run);
      } else {
        for (size_t i = 0; i < byte_run.size(); ++i) decoded.push_back(kReplacementCharacter);
      }
      byte_run.clear();
    };
    for (std::string& token : tokens) {
      if (const std::optional<char> byte = ByteOfToken(token)) {
        byte_run.push_back(*byte);
        continue;
      }
      flush_byte_run();
      decoded.push_back(std::move(token));
    }
    flush_byte_run();
    tokens = std::move(decoded);
  }

 private:
  static std::optional<char> ByteOfToken(const std::string& token) {
    if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>') return std::nullopt;
    unsigned int byte = 0;
    const char* digits_end = token.data() + 5;
    const auto [parsed_end, error] = std::from_chars(token.data() + 3, digits_end, byte, 16);
    if (error != std::errc() || parsed_end != digits_end) return std::nullopt;
    return static_cast<char>(byte);
  }
};

class FuseDecoder : public TokenDecoder {
 public:
  void Decode(std::vector<std::string>& tokens, DecodePosition) const override {
    tokens = {Concatenate(tokens)};
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token:
// SentencePiece decoders use it to drop the space that the prepended "▁" became.
class StripDecoder : public TokenDecoder {
 public:
  explicit StripDecoder(const TokenizerJson& node)
      : content_(node["content"].String()),
        start_(node.IntOr("start", 0)),
        stop_(node.IntOr("stop", 0)) {
    if (content_.empty()) node["content"].Invalid("must not be empty");
  }

  void Decode(std::vector<std::string>& tokens, DecodePosition position) const override {
    if (position == DecodePosition::kMidText) return;
    for (std::string& token : tokens) {
      size_t begin = 0;
      size_t end = token.size();
      for (int64_t i = 0; i < start_ && token.compare(begin, content_.size(), content_) == 0; ++i) {
        begin += content_.size();
      }
      for (int64_t i = 0; i < stop_ && end >= begin + content_.size() &&
                          token.compare(end - content_.size(), content_.size(), content_) == 0;
           ++i) {
        end -= content_.size();
      }
      token = token.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  int64_t start_;
  int64_t stop_;
};

// "▁" back to spaces; in the first token of a text (when the pre-tokenizer prepended one) the
// replacement characters are dropped instead.
class MetaspaceDecoder : public TokenDecoder {
 public:
  explicit MetaspaceDecoder(const TokenizerJson& node)
      : replacement_(ParseMetaspaceReplacement(node)),
        drops_at_start_(ParsePrependScheme(node) != PrependScheme::kNever) {}

  void Decode(std::vector<std::string>& tokens, DecodePosition position) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      const bool at_start = i == 0 && position == DecodePosition::kWholeText && drops_at_start_;
      ReplaceAll(tokens[i], replacement_, at_start ? "" : " ");
    }
  }

 private:
  std::string replacement_;
  bool drops_at_start_;
};

class SequenceDecoder : public TokenDecoder {
 public:
  explicit SequenceDecoder(const TokenizerJson& node) {
    const TokenizerJson steps = node["decoders"];
    for (size_t i = 0; i < steps.ArraySize(); ++i) steps_.push_back(ParseTokenDecoder(steps.At(i)));
  }

  void Decode(std::vector<std::string>& tokens, DecodePosition position) const override {
    for (const auto& step : steps_) step->Decode(tokens, position);
  }

 private:
  std::vector<std::unique_ptr<TokenDecoder>> steps_;
};

}  // namespace

std::unique_ptr<TokenDecoder> ParseTokenDecoder(const TokenizerJson& node) {
  const std::string type = node["type"].String();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(node);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(node);
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(node);
  if (type == "Sequence") return std::make_unique<SequenceDecoder>(node);
  node["type"].Invalid("\"", type, "\" is not a supported decoder");
}

}  // namespace lightvlm
