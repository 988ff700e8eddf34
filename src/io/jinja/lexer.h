// Splits a Jinja template into text and tag tokens, applying whitespace control as transformers
// configures jinja2 (trim_blocks, lstrip_blocks, "-" and "+" markers, one trailing newline
// dropped), and tokenizes the expressions inside tags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lightvlm::jinja {

struct Token {
  enum class Kind {
    kText,        // template text between tags, whitespace control applied
    kBlockBegin,  // {%
    kBlockEnd,    // %}
    kVarBegin,    // {{
    kVarEnd,      // }}
    kName,
    kString,  // text holds the unescaped value
    kInteger,
    kFloat,
    kOperator,  // + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
    kEnd,
  };
  Kind kind;
  std::string text;
  int line;
};

// Fails with an Error naming the line for an unterminated tag, comment or string, or a character
// no expression uses.
std::vector<Token> Tokenize(std::string_view source);

}  // namespace lightvlm::jinja
