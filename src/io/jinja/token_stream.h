// A cursor over a template's tokens, shared by the statement and expression parsers: lookahead,
// expectations whose errors name the line, and the bound on nesting.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/jinja/lexer.h"

namespace lightvlm::jinja {

// Nesting deeper than this in one expression or block structure is refused: no chat template
// comes close, and the parser and renderer recurse once per level.
constexpr int kMaxNesting = 200;

class TokenStream {
 public:
  using Kind = Token::Kind;

  explicit TokenStream(const std::vector<Token>& tokens) : tokens_(tokens) {}

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& token = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return token;
  }
  bool IsOp(const char* op, size_t ahead = 0) const {
    return Peek(ahead).kind == Kind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(const char* name, size_t ahead = 0) const {
    return Peek(ahead).kind == Kind::kName && Peek(ahead).text == name;
  }
  template <class... Args>
  [[noreturn]] void Fail(int line, const Args&... args) const {
    lightvlm::Fail("chat template line ", line, ": ", args...);
  }
  void ExpectOp(const char* op) {
    if (!IsOp(op)) Fail(Peek().line, "expected '", op, "', found ", Describe(Peek()));
    Next();
  }
  std::string ExpectName() {
    if (Peek().kind != Kind::kName) Fail(Peek().line, "expected a name, found ", Describe(Peek()));
    return Next().text;
  }
  void ExpectBlockEnd() {
    if (Peek().kind != Kind::kBlockEnd) {
      Fail(Peek().line, "expected '%}', found ", Describe(Peek()));
    }
    Next();
  }
  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case Kind::kEnd:
        return "the end of the template";
      case Kind::kBlockEnd:
        return "'%}'";
      case Kind::kVarEnd:
        return "'}}'";
      case Kind::kText:
        return "template text";
      case Kind::kString:
        return "a string";
      default:
        return "'" + token.text + "'";
    }
  }
  // Enter() when descending one level of nesting, Leave() when coming back.
  void Enter(int line) {
    if (++depth_ > kMaxNesting) Fail(line, "nesting deeper than ", kMaxNesting, " levels");
  }
  void Leave() { --depth_; }

 private:
  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace lightvlm::jinja
