#include "io/jinja/text.h"

#include <cstdio>
#include <vector>

#include "io/jinja/value.h"
#include "io/utf8.h"

namespace lightvlm::jinja {
namespace {

// The upper and lower forms of one code point; `cased` is false for characters without case.
struct Case {
  char32_t upper, lower;
  bool cased;
};

bool In(char32_t c, char32_t first, char32_t last) { return c >= first && c <= last; }

// Blocks with cased letters this table does not map: refused rather than passed through.
bool UnmappedCasedBlock(char32_t c) {
  return In(c, 0x0180, 0x024F) || In(c, 0x0250, 0x02AF) || In(c, 0x0370, 0x0385) ||
         In(c, 0x03CF, 0x03FF) || In(c, 0x0460, 0x052F) || In(c, 0x0531, 0x0587) ||
         In(c, 0x10A0, 0x10FF) || In(c, 0x13A0, 0x13FF) || In(c, 0x1C80, 0x1CBF) ||
         In(c, 0x1E00, 0x1FFF) || In(c, 0x2C00, 0x2D2F) || In(c, 0xA640, 0xA69F) ||
         In(c, 0xA720, 0xA7FF) || In(c, 0xAB70, 0xABBF) || In(c, 0xFB00, 0xFB17) ||
         In(c, 0xFF21, 0xFF3A) || In(c, 0xFF41, 0xFF5A) || In(c, 0x10400, 0x104FF) ||
         In(c, 0x10C80, 0x10CFF) || In(c, 0x118A0, 0x118FF) || In(c, 0x16E40, 0x16E9F) ||
         In(c, 0x1E900, 0x1E95F) || c == 0x0149 || c == 0x0390 || c == 0x03B0 || c == 0x2126 ||
         c == 0x212A || c == 0x212B || In(c, 0x2160, 0x217F) || In(c, 0x24B6, 0x24E9);
}

Case CaseOf(char32_t c) {
  const Case none{c, c, false};
  if (In(c, 'A', 'Z') || (In(c, 0xC0, 0xDE) && c != 0xD7)) return {c, c + 0x20, true};
  if (In(c, 'a', 'z') || (In(c, 0xE0, 0xFE) && c != 0xF7)) return {c - 0x20, c, true};
  if (c == 0xB5) return {0x039C, c, true};  // micro sign
  if (c == 0xDF) return {c, c, true};       // ß: upper is "SS", handled by the caller
  if (c == 0xFF) return {0x0178, c, true};
  if (c == 0x0178) return {c, 0xFF, true};
  if (c == 0x0130) return {c, c, true};  // İ: lower is "i̇", handled by the caller
  if (c == 0x0131) return {'I', c, true};
  if (c == 0x0138) return {c, c, true};  // ĸ has no upper form
  if (c == 0x017F) return {'S', c, true};
  // Latin Extended-A: pairs of upper then lower, aligned on even code points except in
  // U+0139..U+0148 and U+0179..U+017E.
  const bool odd_aligned = In(c, 0x0139, 0x0148) || In(c, 0x0179, 0x017E);
  if (In(c, 0x0100, 0x017F)) {
    const bool upper = (c % 2 == 1) == odd_aligned;
    return upper ? Case{c, c + 1, true} : Case{c - 1, c, true};
  }
  // Greek.
  if (In(c, 0x0391, 0x03A9) && c != 0x03A2) return {c, c + 0x20, true};
  if (In(c, 0x03B1, 0x03C9)) return {c == 0x03C2 ? char32_t{0x03A3} : c - 0x20, c, true};
  if (c == 0x0386) return {c, 0x03AC, true};
  if (c == 0x03AC) return {0x0386, c, true};
  if (In(c, 0x0388, 0x038A)) return {c, c + 0x25, true};
  if (In(c, 0x03AD, 0x03AF)) return {c - 0x25, c, true};
  if (c == 0x038C) return {c, 0x03CC, true};
  if (c == 0x03CC) return {0x038C, c, true};
  if (In(c, 0x038E, 0x038F)) return {c, c + 0x3F, true};
  if (In(c, 0x03CD, 0x03CE)) return {c - 0x3F, c, true};
  // Cyrillic.
  if (In(c, 0x0410, 0x042F)) return {c, c + 0x20, true};
  if (In(c, 0x0430, 0x044F)) return {c - 0x20, c, true};
  if (In(c, 0x0400, 0x040F)) return {c, c + 0x50, true};
  if (In(c, 0x0450, 0x045F)) return {c - 0x50, c, true};
  if (UnmappedCasedBlock(c)) {
    char name[16];
    std::snprintf(name, sizeof name, "U+%04X", static_cast<unsigned>(c));
    Throw("changing the case of ", name,
          " is not supported (only ASCII, Latin-1, Latin Extended-A, "
          "Greek and Cyrillic letters)");
  }
  return none;
}

std::vector<char32_t> Decode(std::string_view s) {
  std::vector<char32_t> points;
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Step step = DecodeUtf8Step(s, pos);
    points.push_back(step.kind == Utf8Step::Kind::kValid ? step.code_point : char32_t{0xFFFD});
    pos += step.length;
  }
  return points;
}

// Title case is upper case in the scripts covered, but for ß ("Ss").
void AppendUpper(char32_t c, std::string& out, bool title = false) {
  if (c == 0xDF) {
    out += title ? "Ss" : "SS";
  } else {
    AppendUtf8(CaseOf(c).upper, out);
  }
}

// Python lowers Σ to final ς after a cased letter when no cased letter follows.
void AppendLower(const std::vector<char32_t>& points, size_t i, std::string& out) {
  const char32_t c = points[i];
  if (c == 0x0130) {
    out += "i\xCC\x87";
  } else if (c == 0x03A3) {
    const bool after_cased = i > 0 && CaseOf(points[i - 1]).cased;
    const bool before_cased = i + 1 < points.size() && CaseOf(points[i + 1]).cased;
    AppendUtf8(after_cased && !before_cased ? char32_t{0x03C2} : char32_t{0x03C3}, out);
  } else {
    AppendUtf8(CaseOf(c).lower, out);
  }
}

}  // namespace

bool IsPyWhitespace(char32_t c) {
  return In(c, 0x09, 0x0D) || In(c, 0x1C, 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         In(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

std::string StripWhitespace(std::string_view s, bool left, bool right) {
  size_t begin = 0, end = s.size();
  while (left && begin < end) {
    const Utf8Step step = DecodeUtf8Step(s, begin);
    if (step.kind != Utf8Step::Kind::kValid || !IsPyWhitespace(step.code_point)) break;
    begin += step.length;
  }
  while (right && end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const Utf8Step step = DecodeUtf8Step(s, start);
    if (step.kind != Utf8Step::Kind::kValid || step.length != end - start ||
        !IsPyWhitespace(step.code_point)) {
      break;
    }
    end = start;
  }
  return std::string(s.substr(begin, end - begin));
}

std::string Upper(std::string_view s) {
  std::string out;
  for (const char32_t c : Decode(s)) AppendUpper(c, out);
  return out;
}

std::string Lower(std::string_view s) {
  const std::vector<char32_t> points = Decode(s);
  std::string out;
  for (size_t i = 0; i < points.size(); ++i) AppendLower(points, i, out);
  return out;
}

std::string Capitalize(std::string_view s) {
  const std::vector<char32_t> points = Decode(s);
  std::string out;
  for (size_t i = 0; i < points.size(); ++i) {
    if (i == 0) {
      AppendUpper(points[i], out, true);
    } else {
      AppendLower(points, i, out);
    }
  }
  return out;
}

std::string Title(std::string_view s) {
  const std::vector<char32_t> points = Decode(s);
  std::string out;
  bool previous_cased = false;
  for (size_t i = 0; i < points.size(); ++i) {
    if (previous_cased) {
      AppendLower(points, i, out);
    } else {
      AppendUpper(points[i], out, true);
    }
    previous_cased = CaseOf(points[i]).cased;
  }
  return out;
}

bool IsAllCase(std::string_view s, bool lower) {
  bool any_cased = false;
  for (const char32_t c : Decode(s)) {
    const Case info = CaseOf(c);
    if (!info.cased) continue;
    any_cased = true;
    // ß, ĸ and the like have no other form and count as lower.
    const bool is_lower = info.lower == c && (info.upper != c || c == 0xDF || c == 0x0138);
    if (is_lower != lower) return false;
  }
  return any_cased;
}

}  // namespace lightvlm::jinja
