#include "io/pretokenizer.h"

#include <array>
#include <cstdint>
#include <optional>

#include "base/error.h"
#include "io/normalizer.h"
#include "io/unicode_regex.h"
#include "io/utf8.h"

namespace lightvlm {

const char kQwen2SplitRegex[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
namespace {

// ---- GPT-2 byte-level characters ----

constexpr char32_t kFirstRemappedCodePoint = 0x100;

bool ByteStandsForItself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct ByteLevelMap {
  std::array<char32_t, 256> char_of_byte;
  std::array<int16_t, kFirstRemappedCodePoint + 256> byte_of_char;  // -1: not a byte's char
};

const ByteLevelMap& TheByteLevelMap() {
  static const ByteLevelMap map = [] {
    ByteLevelMap result;
    result.byte_of_char.fill(-1);
    char32_t next_remapped = kFirstRemappedCodePoint;
    for (int byte = 0; byte < 256; ++byte) {
      const char32_t c = ByteStandsForItself(byte) ? char32_t(byte) : next_remapped++;
      result.char_of_byte[byte] = c;
      result.byte_of_char[c] = static_cast<int16_t>(byte);
    }
    return result;
  }();
  return map;
}

// ---- splitting a piece at delimiter matches ----

struct Span {
  size_t begin;
  size_t end;
  bool is_delimiter;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// The text cut into delimiter spans (the matches) and the spans between them.
std::vector<Span> Partition(size_t text_size, const std::vector<std::pair<size_t, size_t>>& matches,
                            bool invert) {
  std::vector<Span> spans;
  size_t previous_end = 0;
  for (const auto& [begin, end] : matches) {
    if (begin > previous_end) spans.push_back({previous_end, begin, invert});
    spans.push_back({begin, end, !invert});
    previous_end = end;
  }
  if (previous_end < text_size) spans.push_back({previous_end, text_size, invert});
  return spans;
}

// A delimiter joins the following piece unless that piece is a delimiter itself.
std::vector<Span> MergeDelimitersIntoNext(const std::vector<Span>& spans) {
  std::vector<Span> pieces;  // built back to front
  for (size_t i = spans.size(); i-- > 0;) {
    const bool before_delimiter = i + 1 < spans.size() && spans[i + 1].is_delimiter;
    if (spans[i].is_delimiter && !before_delimiter && !pieces.empty()) {
      pieces.back().begin = spans[i].begin;
    } else {
      pieces.push_back(spans[i]);
    }
  }
  return {pieces.rbegin(), pieces.rend()};
}

// Whether spans[i] joins the piece before it (behaviors other than MergedWithNext).
bool JoinsPrevious(const std::vector<Span>& spans, size_t i, SplitBehavior behavior) {
  const bool after_delimiter = i > 0 && spans[i - 1].is_delimiter;
  switch (behavior) {
    case SplitBehavior::kMergedWithPrevious:
      return spans[i].is_delimiter && !after_delimiter;
    case SplitBehavior::kContiguous:  // runs of delimiters become one piece
      return i > 0 && spans[i].is_delimiter == after_delimiter;
    default:
      return false;
  }
}

// Pieces from spans, following Hugging Face's SplitDelimiterBehavior: e.g. "a-b--c" split at "-"
// gives a,b,c (Removed); a,-,b,-,-,c (Isolated); a-,b-,-,c (MergedWithPrevious);
// a,-b,-,-c (MergedWithNext); a,-,b,--,c (Contiguous).
std::vector<Span> ApplyBehavior(const std::vector<Span>& spans, SplitBehavior behavior) {
  if (behavior == SplitBehavior::kMergedWithNext) return MergeDelimitersIntoNext(spans);
  std::vector<Span> pieces;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (behavior == SplitBehavior::kRemoved && spans[i].is_delimiter) continue;
    if (JoinsPrevious(spans, i, behavior) && !pieces.empty()) {
      pieces.back().end = spans[i].end;
    } else {
      pieces.push_back(spans[i]);
    }
  }
  return pieces;
}

void AppendPieces(const TextPiece& piece, const std::vector<Span>& spans,
                  std::vector<TextPiece>& out) {
  for (const Span& span : spans) {
    out.push_back({piece.text.substr(span.begin, span.end - span.begin),
                   piece.at_text_start && span.begin == 0});
  }
}

SplitBehavior ParseBehavior(const TokenizerJson& node) {
  const std::string name = node.String();
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  node.Invalid("\"", name, "\" is not a known split behavior");
}

// A {"Regex": ...} or {"String": ...} pattern node compiled; errors name the node.
std::unique_ptr<UnicodeRegex> CompilePattern(const TokenizerJson& pattern) {
  const std::optional<TokenizerJson> regex = pattern.Find("Regex");
  const std::optional<TokenizerJson> literal = pattern.Find("String");
  if (!regex && !literal) pattern.Invalid("must hold \"Regex\" or \"String\"");
  const TokenizerJson& text = regex ? *regex : *literal;
  try {
    return std::make_unique<UnicodeRegex>(text.String(), /*literal=*/!regex);
  } catch (const Error& error) {
    text.Invalid(error.what());
  }
}

// ---- the pre-tokenizers ----

// The GPT-2 pattern that ByteLevel splits with when use_regex is true.
constexpr char kGpt2SplitPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  explicit ByteLevelPreTokenizer(const TokenizerJson& node)
      : add_prefix_space_(node.BoolOr("add_prefix_space", true)) {
    if (node.BoolOr("use_regex", true)) {
      gpt2_split_ = std::make_unique<UnicodeRegex>(kGpt2SplitPattern, /*literal=*/false);
    }
  }

  void Split(const TextPiece& piece, std::vector<TextPiece>& out) const override {
    TextPiece spaced = piece;
    // Concatenation rather than insert(0, " "), which trips a GCC 12 -Wrestrict false alarm.
    if (add_prefix_space_ && !spaced.text.starts_with(' ')) spaced.text = " " + spaced.text;
    const size_t first = out.size();
    if (gpt2_split_) {
      const auto spans = Partition(spaced.text.size(), gpt2_split_->FindAll(spaced.text), false);
      AppendPieces(spaced, ApplyBehavior(spans, SplitBehavior::kIsolated), out);
    } else {
      out.push_back(std::move(spaced));
    }
    for (size_t i = first; i < out.size(); ++i) out[i].text = BytesToByteLevelChars(out[i].text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<UnicodeRegex> gpt2_split_;  // null when use_regex is false
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  explicit SplitPreTokenizer(const TokenizerJson& node)
      : pattern_(CompilePattern(node["pattern"])),
        behavior_(ParseBehavior(node["behavior"])),
        invert_(node.BoolOr("invert", false)) {}

  void Split(const TextPiece& piece, std::vector<TextPiece>& out) const override {
    const auto spans = Partition(piece.text.size(), pattern_->FindAll(piece.text), invert_);
    AppendPieces(piece, ApplyBehavior(spans, behavior_), out);
  }

 private:
  std::unique_ptr<UnicodeRegex> pattern_;
  SplitBehavior behavior_;
  bool invert_;  // the pattern matches the pieces rather than the delimiters
};

// SentencePiece's space handling: spaces become `replacement`, one is prepended, and the text is
// cut before each replacement character.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(const TokenizerJson& node)
      : replacement_(ParseMetaspaceReplacement(node)),
        prepend_scheme_(ParsePrependScheme(node)),
        split_(node.BoolOr("split", true)) {}

  void Split(const TextPiece& piece, std::vector<TextPiece>& out) const override {
    TextPiece replaced = piece;
    ReplaceAll(replaced.text, " ", replacement_);
    const bool prepend = prepend_scheme_ == PrependScheme::kAlways ||
                         (prepend_scheme_ == PrependScheme::kFirst && piece.at_text_start);
    if (prepend && !replaced.text.starts_with(replacement_)) {
      replaced.text.insert(0, replacement_);
    }
    if (!split_) {
      out.push_back(std::move(replaced));
      return;
    }
    std::vector<std::pair<size_t, size_t>> matches;
    for (size_t pos = replaced.text.find(replacement_); pos != std::string::npos;
         pos = replaced.text.find(replacement_, pos + replacement_.size())) {
      matches.emplace_back(pos, pos + replacement_.size());
    }
    const auto spans = Partition(replaced.text.size(), matches, false);
    AppendPieces(replaced, ApplyBehavior(spans, SplitBehavior::kMergedWithNext), out);
  }

 private:
  std::string replacement_;
  PrependScheme prepend_scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(const TokenizerJson& node) {
    const TokenizerJson steps = node["pretokenizers"];
    for (size_t i = 0; i < steps.ArraySize(); ++i) steps_.push_back(ParsePreTokenizer(steps.At(i)));
  }

  void Split(const TextPiece& piece, std::vector<TextPiece>& out) const override {
    std::vector<TextPiece> pieces{piece};
    for (const auto& step : steps_) pieces = step->SplitAll(pieces);
    for (TextPiece& result : pieces) out.push_back(std::move(result));
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::vector<TextPiece> PreTokenizer::SplitAll(const std::vector<TextPiece>& pieces) const {
  std::vector<TextPiece> out;
  for (const TextPiece& piece : pieces) Split(piece, out);
  return out;
}

std::unique_ptr<PreTokenizer> ParsePreTokenizer(const TokenizerJson& node) {
  const std::string type = node["type"].String();
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(node);
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(node);
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(node);
  if (type == "Sequence") return std::make_unique<SequencePreTokenizer>(node);
  node["type"].Invalid("\"", type, "\" is not a supported pre-tokenizer");
}

PrependScheme ParsePrependScheme(const TokenizerJson& metaspace) {
  const std::optional<TokenizerJson> scheme = metaspace.Find("prepend_scheme");
  if (!scheme) {
    return metaspace.BoolOr("add_prefix_space", true) ? PrependScheme::kAlways
                                                      : PrependScheme::kNever;
  }
  const std::string name = scheme->String();
  if (name == "always") return PrependScheme::kAlways;
  if (name == "first") return PrependScheme::kFirst;
  if (name == "never") return PrependScheme::kNever;
  scheme->Invalid("\"", name, "\" is not \"always\", \"first\" or \"never\"");
}

std::string ParseMetaspaceReplacement(const TokenizerJson& metaspace) {
  const std::string replacement = metaspace.StringOr("replacement", "\u2581");
  const bool one_character = !replacement.empty() &&
                             DecodeUtf8Step(replacement, 0).kind == Utf8Step::Kind::kValid &&
                             DecodeUtf8Step(replacement, 0).length == replacement.size();
  if (!one_character) {
    metaspace["replacement"].Invalid("must be exactly one character, got \"", replacement, "\"");
  }
  return replacement;
}

std::string BytesToByteLevelChars(std::string_view bytes) {
  const ByteLevelMap& map = TheByteLevelMap();
  std::string text;
  text.reserve(bytes.size() * 2);
  for (char byte : bytes) AppendUtf8(map.char_of_byte[static_cast<uint8_t>(byte)], text);
  return text;
}

bool ByteLevelCharsToBytes(std::string_view text, std::string& bytes) {
  const ByteLevelMap& map = TheByteLevelMap();
  bytes.clear();
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8Step(text, pos);
    if (step.kind != Utf8Step::Kind::kValid || step.code_point >= map.byte_of_char.size() ||
        map.byte_of_char[step.code_point] < 0) {
      return false;
    }
    bytes.push_back(static_cast<char>(map.byte_of_char[step.code_point]));
    pos += step.length;
  }
  return true;
}

}  // namespace lightvlm
