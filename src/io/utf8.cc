#include "io/utf8.h"

namespace lightvlm {
namespace {

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

struct LeadByte {
  size_t length;  // bytes in the whole sequence
  char32_t bits;  // payload bits of the lead byte
  // Range allowed for the second byte: narrower than 80..BF after E0, ED, F0, F4 to exclude
  // overlong forms, surrogates and code points above U+10FFFF (Unicode Table 3-7).
  unsigned char second_min;
  unsigned char second_max;
};

std::optional<LeadByte> ClassifyLead(unsigned char byte) {
  if (byte >= 0xC2 && byte <= 0xDF) return LeadByte{2, byte & 0x1Fu, 0x80, 0xBF};
  if (byte == 0xE0) return LeadByte{3, 0, 0xA0, 0xBF};
  if (byte == 0xED) return LeadByte{3, 0xD, 0x80, 0x9F};
  if (byte >= 0xE1 && byte <= 0xEF) return LeadByte{3, byte & 0x0Fu, 0x80, 0xBF};
  if (byte == 0xF0) return LeadByte{4, 0, 0x90, 0xBF};
  if (byte >= 0xF1 && byte <= 0xF3) return LeadByte{4, byte & 0x07u, 0x80, 0xBF};
  if (byte == 0xF4) return LeadByte{4, 4, 0x80, 0x8F};
  return std::nullopt;  // a continuation byte, C0, C1 or F5..FF can never start a character
}

}  // namespace

Utf8Step DecodeUtf8Step(std::string_view text, size_t pos) {
  const auto lead_byte = static_cast<unsigned char>(text[pos]);
  if (lead_byte < 0x80) return {Utf8Step::Kind::kValid, 1, lead_byte};
  const std::optional<LeadByte> lead = ClassifyLead(lead_byte);
  if (!lead) return {Utf8Step::Kind::kInvalid, 1, 0};
  char32_t code_point = lead->bits;
  for (size_t i = 1; i < lead->length; ++i) {
    if (pos + i == text.size()) return {Utf8Step::Kind::kTruncated, i, 0};
    const auto byte = static_cast<unsigned char>(text[pos + i]);
    const unsigned char min = i == 1 ? lead->second_min : 0x80;
    const unsigned char max = i == 1 ? lead->second_max : 0xBF;
    if (byte < min || byte > max) return {Utf8Step::Kind::kInvalid, i, 0};
    code_point = (code_point << 6) | (byte & 0x3Fu);
  }
  return {Utf8Step::Kind::kValid, lead->length, code_point};
}

std::optional<size_t> FirstInvalidUtf8Byte(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8Step(text, pos);
    if (step.kind != Utf8Step::Kind::kValid) return pos;
    pos += step.length;
  }
  return std::nullopt;
}

size_t IncompleteUtf8TailLength(std::string_view text) {
  // A character is at most 4 bytes, so only a start among the last 3 bytes can be cut short.
  const size_t first = text.size() > 3 ? text.size() - 3 : 0;
  for (size_t pos = first; pos < text.size(); ++pos) {
    const Utf8Step step = DecodeUtf8Step(text, pos);
    if (step.kind == Utf8Step::Kind::kTruncated) return step.length;
  }
  return 0;
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Step step = DecodeUtf8Step(text, pos);
    if (step.kind == Utf8Step::Kind::kValid) {
      out.append(text.substr(pos, step.length));
    } else {
      out.append(kReplacementCharacter);
    }
    pos += step.length;
  }
  return out;
}

void AppendUtf8(char32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

}  // namespace lightvlm
