#include "io/jinja/parser.h"

#include <set>
#include <utility>

#include "io/jinja/expression_parser.h"
#include "io/jinja/token_stream.h"

namespace lightvlm::jinja {
namespace {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : in_(tokens) {}

  Body ParseTemplate() {
    std::string end;
    Body body = ParseBody({}, end);
    return body;
  }

 private:
  using Kind = Token::Kind;

  // Statements up to one of `ends` (an end tag such as "endfor"), whose name is left in `end`
  // with its "{% name" consumed; at top level (no ends), up to the end of the template.
  Body ParseBody(const std::set<std::string>& ends, std::string& end) {
    Body body;
    while (true) {
      const Token& token = in_.Peek();
      if (token.kind == Kind::kEnd) {
        if (!ends.empty()) {
          in_.Fail(token.line, "unexpected end of template: a tag is missing its {% ",
                   *ends.rbegin(), " %}");
        }
        return body;
      }
      if (token.kind == Kind::kText) {
        body.push_back(MakeStmt(Stmt::Kind::kText, token.line));
        body.back()->text = in_.Next().text;
      } else if (token.kind == Kind::kVarBegin) {
        in_.Next();
        auto output = MakeStmt(Stmt::Kind::kOutput, token.line);
        output->expr = ParseExpression(in_);
        if (in_.Peek().kind != Kind::kVarEnd)
          in_.Fail(in_.Peek().line, "expected '}}', found ", in_.Describe(in_.Peek()));
        in_.Next();
        body.push_back(std::move(output));
      } else {
        in_.Next();  // {%
        const Token& name = in_.Peek();
        if (name.kind != Kind::kName)
          in_.Fail(name.line, "expected a tag name, found ", in_.Describe(name));
        if (ends.count(name.text)) {
          in_.Next();
          end = name.text;
          return body;
        }
        body.push_back(ParseTag());
      }
    }
  }

  static std::unique_ptr<Stmt> MakeStmt(Stmt::Kind kind, int line) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->line = line;
    return stmt;
  }

  std::unique_ptr<Stmt> ParseTag() {
    const Token& name = in_.Next();
    in_.Enter(name.line);
    std::unique_ptr<Stmt> stmt;
    if (name.text == "if") {
      stmt = ParseIf(name.line);
    } else if (name.text == "for") {
      stmt = ParseFor(name.line);
    } else if (name.text == "set") {
      stmt = ParseSet(name.line);
    } else if (name.text == "macro") {
      stmt = ParseMacro(name.line);
    } else if (name.text == "break" || name.text == "continue") {
      // As jinja2, refused outside a loop body rather than ending the render early.
      if (loop_depth_ == 0) in_.Fail(name.line, "{% ", name.text, " %} outside a for loop");
      stmt = MakeStmt(name.text == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, name.line);
      in_.ExpectBlockEnd();
    } else if (name.text == "generation") {
      // transformers' {% generation %} marks assistant text for masks; it renders its body.
      stmt = MakeStmt(Stmt::Kind::kScope, name.line);
      in_.ExpectBlockEnd();
      std::string end;
      stmt->bodies.push_back(ParseBody({"endgeneration"}, end));
      in_.ExpectBlockEnd();
    } else {
      static const std::set<std::string> kJinjaTags = {
          "block", "extends", "include",    "import", "from",  "call",      "filter",
          "raw",   "with",    "autoescape", "do",     "trans", "pluralize", "endraw"};
      if (kJinjaTags.count(name.text)) {
        in_.Fail(name.line, "the {% ", name.text, " %} tag is not supported by this interpreter");
      }
      in_.Fail(name.line, "unknown or misplaced tag '", name.text, "'");
    }
    in_.Leave();
    return stmt;
  }

  std::unique_ptr<Stmt> ParseIf(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kIf, line);
    stmt->conditions.push_back(ParseExpression(in_));
    in_.ExpectBlockEnd();
    while (true) {
      std::string end;
      stmt->bodies.push_back(ParseBody({"elif", "else", "endif"}, end));
      if (end == "elif") {
        stmt->conditions.push_back(ParseExpression(in_));
        in_.ExpectBlockEnd();
      } else if (end == "else") {
        in_.ExpectBlockEnd();
        stmt->bodies.push_back(ParseBody({"endif"}, end));
        in_.ExpectBlockEnd();
        return stmt;
      } else {
        in_.ExpectBlockEnd();
        return stmt;
      }
    }
  }

  std::unique_ptr<Stmt> ParseFor(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kFor, line);
    stmt->targets.push_back(in_.ExpectName());
    while (in_.IsOp(",")) {
      in_.Next();
      stmt->targets.push_back(in_.ExpectName());
    }
    if (!in_.IsName("in"))
      in_.Fail(in_.Peek().line, "expected 'in' in the for tag, found ", in_.Describe(in_.Peek()));
    in_.Next();
    stmt->expr = ParseOrExpression(in_);  // no conditional expression: "if" here filters the loop
    if (in_.IsName("recursive")) in_.Fail(in_.Peek().line, "recursive for loops are not supported");
    if (in_.IsName("if")) {
      in_.Next();
      stmt->conditions.push_back(ParseExpression(in_));
    }
    in_.ExpectBlockEnd();
    std::string end;
    ++loop_depth_;
    stmt->bodies.push_back(ParseBody({"else", "endfor"}, end));
    --loop_depth_;
    if (end == "else") {
      in_.ExpectBlockEnd();
      stmt->bodies.push_back(ParseBody({"endfor"}, end));
    }
    in_.ExpectBlockEnd();
    return stmt;
  }

  std::unique_ptr<Stmt> ParseSet(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kSet, line);
    std::string target = in_.ExpectName();
    if (in_.IsOp(".")) {
      in_.Next();
      target.push_back('.');
      target.append(in_.ExpectName());
    }
    stmt->targets.push_back(target);
    while (in_.IsOp(",")) {
      in_.Next();
      stmt->targets.push_back(in_.ExpectName());
    }
    if (in_.Peek().kind == Kind::kBlockEnd) {
      if (stmt->targets.size() != 1 || target.find('.') != std::string::npos) {
        in_.Fail(line, "a block {% set %} assigns one plain name");
      }
      in_.Next();
      stmt->kind = Stmt::Kind::kSetBlock;
      std::string end;
      stmt->bodies.push_back(ParseBody({"endset"}, end));
      in_.ExpectBlockEnd();
      return stmt;
    }
    if (stmt->targets.size() > 1 && target.find('.') != std::string::npos) {
      in_.Fail(line, "unpacking into an attribute is not supported");
    }
    in_.ExpectOp("=");
    stmt->expr = ParseExpression(in_);
    in_.ExpectBlockEnd();
    return stmt;
  }

  std::unique_ptr<Stmt> ParseMacro(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kMacro, line);
    stmt->targets.push_back(in_.ExpectName());
    in_.ExpectOp("(");
    while (!in_.IsOp(")")) {
      if (in_.IsOp("*") || in_.IsOp("**"))
        in_.Fail(in_.Peek().line, "macro *args and **kwargs are not supported");
      stmt->targets.push_back(in_.ExpectName());
      if (in_.IsOp("=")) {
        in_.Next();
        stmt->defaults.push_back(ParseExpression(in_));
      } else {
        stmt->defaults.push_back(nullptr);
      }
      if (!in_.IsOp(")")) in_.ExpectOp(",");
    }
    in_.Next();
    in_.ExpectBlockEnd();
    std::string end;
    const int enclosing_loops = std::exchange(loop_depth_, 0);  // a macro body is not in a loop
    stmt->bodies.push_back(ParseBody({"endmacro"}, end));
    loop_depth_ = enclosing_loops;
    if (in_.Peek().kind == Kind::kName) in_.Next();  // {% endmacro name %}
    in_.ExpectBlockEnd();
    return stmt;
  }

  TokenStream in_;
  int loop_depth_ = 0;  // for-loop bodies around the current statement
};

}  // namespace

Body Parse(const std::vector<Token>& tokens) { return Parser(tokens).ParseTemplate(); }

}  // namespace lightvlm::jinja
