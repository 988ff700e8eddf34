#include "io/jinja/lexer.h"

#include <algorithm>

#include "base/error.h"
#include "io/jinja/text.h"
#include "io/utf8.h"

namespace lightvlm::jinja {
namespace {

// The byte length of the whitespace character (Python's \s) at `pos`, or 0.
size_t SpaceLength(std::string_view s, size_t pos) {
  const Utf8Step step = DecodeUtf8Step(s, pos);
  return step.kind == Utf8Step::Kind::kValid && IsPyWhitespace(step.code_point) ? step.length : 0;
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// jinja2 reads \r\n and \r as \n, and (keep_trailing_newline=False) drops one final newline.
std::string NormalizeNewlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Python's "unicode-escape" decoding of a string literal's body, as jinja2 applies it; unknown
// escapes stay as written.
std::string Unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    const auto hex = [&](size_t digits) {
      Check(i + digits < body.size(), "chat template line ", line, ": truncated \\", c,
            " escape in a string");
      const std::string text(body.substr(i + 1, digits));
      Check(text.size() == digits && std::all_of(text.begin(), text.end(), ::isxdigit),
            "chat template line ", line, ": bad \\", c, " escape in a string");
      i += digits;
      return static_cast<char32_t>(std::stoul(text, nullptr, 16));
    };
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\n':
        break;  // a backslash-newline continues the line
      case 'x':
        AppendUtf8(hex(2), out);
        break;
      case 'u':
        AppendUtf8(hex(4), out);
        break;
      case 'U': {
        const char32_t point = hex(8);
        Check(point <= 0x10FFFF, "chat template line ", line, ": \\U escape beyond U+10FFFF");
        AppendUtf8(point, out);
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          char32_t point = 0;
          size_t digits = 0;
          for (; digits < 3 && i < body.size() && body[i] >= '0' && body[i] <= '7'; ++digits, ++i) {
            point = point * 8 + static_cast<char32_t>(body[i] - '0');
          }
          --i;
          AppendUtf8(point, out);
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : source_(std::move(source)) {}

  std::vector<Token> Run() {
    while (pos_ < source_.size()) {
      const size_t tag = FindTagStart(pos_);
      std::string text = source_.substr(pos_, tag - pos_);
      if (tag == source_.size()) {
        Emit(Token::Kind::kText, std::move(text));
        break;
      }
      const char type = source_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < source_.size() ? source_[tag + 2] : '\0';
      if (sign == '-') {
        text = StripWhitespace(text, false, true);
      } else if (sign != '+' && type != '{') {
        // lstrip_blocks: a block or comment tag alone after indentation takes the indentation.
        const size_t line_start = text.rfind('\n') + 1;
        const bool line_starting = pos_ == 0 || source_[pos_ - 1] == '\n';
        if ((line_start > 0 || line_starting) &&
            StripWhitespace(std::string_view(text).substr(line_start), true, false).empty()) {
          text.resize(line_start);
        }
      }
      Emit(Token::Kind::kText, std::move(text));
      line_ +=
          static_cast<int>(std::count(source_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                      source_.begin() + static_cast<std::ptrdiff_t>(tag), '\n'));
      pos_ = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      if (type == '#') {
        SkipComment();
      } else {
        LexTag(type == '%');
      }
    }
    tokens_.push_back({Token::Kind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    for (size_t i = from; i + 1 < source_.size(); ++i) {
      if (source_[i] == '{' &&
          (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) {
        return i;
      }
    }
    return source_.size();
  }

  void Emit(Token::Kind kind, std::string text) {
    if (kind == Token::Kind::kText && text.empty()) return;
    tokens_.push_back({kind, std::move(text), line_});
  }

  void Advance(size_t to) {
    line_ += static_cast<int>(std::count(source_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                         source_.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
    pos_ = to;
  }

  // After a tag's closing delimiter: "-" strips all following whitespace; trim_blocks drops one
  // newline after a block or comment tag unless "+" asks to keep it.
  void AfterTagEnd(char sign, bool block_or_comment) {
    if (sign == '-') {
      size_t end = pos_;
      while (end < source_.size() && SpaceLength(source_, end)) end += SpaceLength(source_, end);
      Advance(end);
    } else if (sign != '+' && block_or_comment && pos_ < source_.size() && source_[pos_] == '\n') {
      Advance(pos_ + 1);
    }
  }

  void SkipComment() {
    const int start_line = line_;
    const size_t end = source_.find("#}", pos_);
    Check(end != std::string::npos, "chat template line ", start_line,
          ": unterminated comment ({# without #})");
    const char sign = end > pos_ ? source_[end - 1] : '\0';
    Advance(end + 2);
    AfterTagEnd(sign, true);
  }

  void LexTag(bool block) {
    const int start_line = line_;
    Emit(block ? Token::Kind::kBlockBegin : Token::Kind::kVarBegin, "");
    const char closer = block ? '%' : '}';
    int depth = 0;  // open brackets: a "}}" inside a dict literal does not end the tag
    while (true) {
      while (pos_ < source_.size() && SpaceLength(source_, pos_))
        Advance(pos_ + SpaceLength(source_, pos_));
      Check(pos_ < source_.size(), "chat template line ", start_line, ": unterminated ",
            block ? "{% ... %} tag" : "{{ ... }} expression");
      const std::string_view rest = std::string_view(source_).substr(pos_);
      for (const char sign : {'-', '+', '\0'}) {
        if (sign == '+' && !block) continue;
        const std::string end = std::string(sign ? 1 : 0, sign) + closer + '}';
        if ((depth == 0 || block) && rest.starts_with(end)) {
          Advance(pos_ + end.size());
          Emit(block ? Token::Kind::kBlockEnd : Token::Kind::kVarEnd, "");
          AfterTagEnd(sign, block);
          return;
        }
      }
      LexExpressionToken(rest, depth);
    }
  }

  void LexExpressionToken(std::string_view rest, int& depth) {
    const char c = rest[0];
    if (IsNameStart(c)) {
      size_t n = 1;
      while (n < rest.size() && IsNameChar(rest[n])) ++n;
      Emit(Token::Kind::kName, std::string(rest.substr(0, n)));
      Advance(pos_ + n);
    } else if (IsDigit(c)) {
      LexNumber(rest);
    } else if (c == '\'' || c == '"') {
      size_t n = 1;
      while (n < rest.size() && rest[n] != c) n += rest[n] == '\\' ? 2 : 1;
      Check(n < rest.size(), "chat template line ", line_, ": unterminated string");
      const int line = line_;
      Emit(Token::Kind::kString, Unescape(rest.substr(1, n - 1), line));
      Advance(pos_ + n + 1);
    } else {
      static const char* const kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
      for (const char* op : kTwoChar) {
        if (rest.starts_with(op)) {
          Emit(Token::Kind::kOperator, op);
          Advance(pos_ + 2);
          return;
        }
      }
      Check(std::string_view("+-*/%~<>=()[]{},.:|").find(c) != std::string_view::npos,
            "chat template line ", line_, ": unexpected character '",
            std::string(rest.substr(0, DecodeUtf8Step(rest, 0).length)), "' in an expression");
      if (c == '(' || c == '[' || c == '{') ++depth;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
      Emit(Token::Kind::kOperator, std::string(1, c));
      Advance(pos_ + 1);
    }
  }

  // Integers and floats (1, 1_000, 1.5, 2e3); underscores are dropped.
  void LexNumber(std::string_view rest) {
    size_t n = 0;
    std::string digits;
    const auto take_digits = [&] {
      while (n < rest.size() && (IsDigit(rest[n]) ||
                                 (rest[n] == '_' && n + 1 < rest.size() && IsDigit(rest[n + 1])))) {
        if (rest[n] != '_') digits += rest[n];
        ++n;
      }
    };
    take_digits();
    bool is_float = false;
    if (n + 1 < rest.size() && rest[n] == '.' && IsDigit(rest[n + 1])) {
      digits += rest[n++];
      take_digits();
      is_float = true;
    }
    if (n < rest.size() && (rest[n] == 'e' || rest[n] == 'E')) {
      size_t m = n + 1;
      if (m < rest.size() && (rest[m] == '+' || rest[m] == '-')) ++m;
      if (m < rest.size() && IsDigit(rest[m])) {
        digits += std::string(rest.substr(n, m - n));
        n = m;
        take_digits();
        is_float = true;
      }
    }
    Emit(is_float ? Token::Kind::kFloat : Token::Kind::kInteger, digits);
    Advance(pos_ + n);
  }

  std::string source_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view source) {
  return Lexer(NormalizeNewlines(source)).Run();
}

}  // namespace lightvlm::jinja
