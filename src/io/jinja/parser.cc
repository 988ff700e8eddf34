#include "io/jinja/parser.h"

#include <charconv>
#include <set>

#include "io/jinja/filters.h"

namespace lightvlm::jinja {
namespace {

// Nesting deeper than this in one expression or block structure is refused: no chat template
// comes close, and the parser and renderer recurse once per level.
constexpr int kMaxNesting = 200;

using ExprPtr = std::unique_ptr<Expr>;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body ParseTemplate() {
    std::string end;
    Body body = ParseBody({}, end);
    return body;
  }

 private:
  using Kind = Token::Kind;

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
    if (Peek().kind != Kind::kBlockEnd)
      Fail(Peek().line, "expected '%}', found ", Describe(Peek()));
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
  void Enter(int line) {
    if (++depth_ > kMaxNesting) Fail(line, "nesting deeper than ", kMaxNesting, " levels");
  }

  // Statements up to one of `ends` (an end tag such as "endfor"), whose name is left in `end`
  // with its "{% name" consumed; at top level (no ends), up to the end of the template.
  Body ParseBody(const std::set<std::string>& ends, std::string& end) {
    Body body;
    while (true) {
      const Token& token = Peek();
      if (token.kind == Kind::kEnd) {
        if (!ends.empty()) {
          Fail(token.line, "unexpected end of template: a tag is missing its {% ", *ends.rbegin(),
               " %}");
        }
        return body;
      }
      if (token.kind == Kind::kText) {
        body.push_back(MakeStmt(Stmt::Kind::kText, token.line));
        body.back()->text = Next().text;
      } else if (token.kind == Kind::kVarBegin) {
        Next();
        auto output = MakeStmt(Stmt::Kind::kOutput, token.line);
        output->expr = ParseExpression();
        if (Peek().kind != Kind::kVarEnd)
          Fail(Peek().line, "expected '}}', found ", Describe(Peek()));
        Next();
        body.push_back(std::move(output));
      } else {
        Next();  // {%
        const Token& name = Peek();
        if (name.kind != Kind::kName)
          Fail(name.line, "expected a tag name, found ", Describe(name));
        if (ends.count(name.text)) {
          Next();
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
    const Token& name = Next();
    Enter(name.line);
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
      stmt = MakeStmt(name.text == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, name.line);
      ExpectBlockEnd();
    } else if (name.text == "generation") {
      // transformers' {% generation %} marks assistant text for masks; it renders its body.
      stmt = MakeStmt(Stmt::Kind::kScope, name.line);
      ExpectBlockEnd();
      std::string end;
      stmt->bodies.push_back(ParseBody({"endgeneration"}, end));
      ExpectBlockEnd();
    } else {
      static const std::set<std::string> kJinjaTags = {
          "block", "extends", "include",    "import", "from",  "call",      "filter",
          "raw",   "with",    "autoescape", "do",     "trans", "pluralize", "endraw"};
      if (kJinjaTags.count(name.text)) {
        Fail(name.line, "the {% ", name.text, " %} tag is not supported by this interpreter");
      }
      Fail(name.line, "unknown or misplaced tag '", name.text, "'");
    }
    --depth_;
    return stmt;
  }

  std::unique_ptr<Stmt> ParseIf(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kIf, line);
    stmt->conditions.push_back(ParseExpression());
    ExpectBlockEnd();
    while (true) {
      std::string end;
      stmt->bodies.push_back(ParseBody({"elif", "else", "endif"}, end));
      if (end == "elif") {
        stmt->conditions.push_back(ParseExpression());
        ExpectBlockEnd();
      } else if (end == "else") {
        ExpectBlockEnd();
        stmt->bodies.push_back(ParseBody({"endif"}, end));
        ExpectBlockEnd();
        return stmt;
      } else {
        ExpectBlockEnd();
        return stmt;
      }
    }
  }

  std::unique_ptr<Stmt> ParseFor(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kFor, line);
    stmt->targets.push_back(ExpectName());
    while (IsOp(",")) {
      Next();
      stmt->targets.push_back(ExpectName());
    }
    if (!IsName("in")) Fail(Peek().line, "expected 'in' in the for tag, found ", Describe(Peek()));
    Next();
    stmt->expr = ParseOr();  // no conditional expression: "if" here filters the loop
    if (IsName("recursive")) Fail(Peek().line, "recursive for loops are not supported");
    if (IsName("if")) {
      Next();
      stmt->conditions.push_back(ParseExpression());
    }
    ExpectBlockEnd();
    std::string end;
    stmt->bodies.push_back(ParseBody({"else", "endfor"}, end));
    if (end == "else") {
      ExpectBlockEnd();
      stmt->bodies.push_back(ParseBody({"endfor"}, end));
    }
    ExpectBlockEnd();
    return stmt;
  }

  std::unique_ptr<Stmt> ParseSet(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kSet, line);
    std::string target = ExpectName();
    if (IsOp(".")) {
      Next();
      target += "." + ExpectName();
    }
    stmt->targets.push_back(target);
    while (IsOp(",")) {
      Next();
      stmt->targets.push_back(ExpectName());
    }
    if (Peek().kind == Kind::kBlockEnd) {
      if (stmt->targets.size() != 1 || target.find('.') != std::string::npos) {
        Fail(line, "a block {% set %} assigns one plain name");
      }
      Next();
      stmt->kind = Stmt::Kind::kSetBlock;
      std::string end;
      stmt->bodies.push_back(ParseBody({"endset"}, end));
      ExpectBlockEnd();
      return stmt;
    }
    if (stmt->targets.size() > 1 && target.find('.') != std::string::npos) {
      Fail(line, "unpacking into an attribute is not supported");
    }
    ExpectOp("=");
    stmt->expr = ParseExpression();
    ExpectBlockEnd();
    return stmt;
  }

  std::unique_ptr<Stmt> ParseMacro(int line) {
    auto stmt = MakeStmt(Stmt::Kind::kMacro, line);
    stmt->targets.push_back(ExpectName());
    ExpectOp("(");
    while (!IsOp(")")) {
      if (IsOp("*") || IsOp("**")) Fail(Peek().line, "macro *args and **kwargs are not supported");
      stmt->targets.push_back(ExpectName());
      if (IsOp("=")) {
        Next();
        stmt->defaults.push_back(ParseExpression());
      } else {
        stmt->defaults.push_back(nullptr);
      }
      if (!IsOp(")")) ExpectOp(",");
    }
    Next();
    ExpectBlockEnd();
    std::string end;
    stmt->bodies.push_back(ParseBody({"endmacro"}, end));
    if (Peek().kind == Kind::kName) Next();  // {% endmacro name %}
    ExpectBlockEnd();
    return stmt;
  }

  static ExprPtr MakeExpr(Expr::Kind kind, int line, std::string name = "") {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->line = line;
    expr->name = std::move(name);
    return expr;
  }
  static ExprPtr Binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    auto expr = MakeExpr(Expr::Kind::kBinary, line, op);
    expr->children.push_back(std::move(left));
    expr->children.push_back(std::move(right));
    return expr;
  }

  ExprPtr ParseExpression() {
    Enter(Peek().line);
    ExprPtr expr = ParseOr();
    while (IsName("if")) {
      const int line = Next().line;
      auto condition = MakeExpr(Expr::Kind::kCondition, line);
      condition->children.push_back(ParseOr());
      condition->children.push_back(std::move(expr));
      if (IsName("else")) {
        Next();
        condition->children.push_back(ParseExpression());
      } else {
        condition->children.push_back(nullptr);
      }
      expr = std::move(condition);
    }
    --depth_;
    return expr;
  }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (IsName("or")) {
      const int line = Next().line;
      left = Binary("or", std::move(left), ParseAnd(), line);
    }
    return left;
  }
  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (IsName("and")) {
      const int line = Next().line;
      left = Binary("and", std::move(left), ParseNot(), line);
    }
    return left;
  }
  ExprPtr ParseNot() {
    if (IsName("not")) {
      const int line = Next().line;
      Enter(line);
      auto expr = MakeExpr(Expr::Kind::kUnary, line, "not");
      expr->children.push_back(ParseNot());
      --depth_;
      return expr;
    }
    return ParseCompare();
  }
  ExprPtr ParseCompare() {
    ExprPtr left = ParseMath1();
    int comparisons = 0;
    while (true) {
      std::string op;
      const int line = Peek().line;
      if (Peek().kind == Kind::kOperator &&
          (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">="))) {
        op = Next().text;
      } else if (IsName("in")) {
        Next();
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next();
        Next();
        op = "not in";
      } else {
        return left;
      }
      if (++comparisons > 1) Fail(line, "chained comparisons (a < b < c) are not supported");
      left = Binary(op, std::move(left), ParseMath1(), line);
    }
  }
  ExprPtr ParseMath1() {
    ExprPtr left = ParseConcat();
    while (IsOp("+") || IsOp("-")) {
      const Token& op = Next();
      left = Binary(op.text, std::move(left), ParseConcat(), op.line);
    }
    return left;
  }
  ExprPtr ParseConcat() {
    ExprPtr left = ParseMath2();
    while (IsOp("~")) {
      const int line = Next().line;
      left = Binary("~", std::move(left), ParseMath2(), line);
    }
    return left;
  }
  ExprPtr ParseMath2() {
    ExprPtr left = ParsePow();
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      const Token& op = Next();
      left = Binary(op.text, std::move(left), ParsePow(), op.line);
    }
    return left;
  }
  ExprPtr ParsePow() {
    ExprPtr left = ParseUnary(true);
    while (IsOp("**")) {
      const int line = Next().line;
      left = Binary("**", std::move(left), ParseUnary(true), line);
    }
    return left;
  }
  ExprPtr ParseUnary(bool with_filter) {
    const int line = Peek().line;
    Enter(line);
    ExprPtr expr;
    if (IsOp("-") || IsOp("+")) {
      expr = MakeExpr(Expr::Kind::kUnary, line, Next().text);
      expr->children.push_back(ParseUnary(false));
    } else {
      expr = ParsePrimary();
    }
    expr = ParsePostfix(std::move(expr));
    if (with_filter) expr = ParseFilters(std::move(expr));
    --depth_;
    return expr;
  }

  ExprPtr ParsePrimary() {
    const Token& token = Next();
    const int line = token.line;
    auto literal = [&](Value value) {
      auto expr = MakeExpr(Expr::Kind::kLiteral, line);
      expr->literal = std::move(value);
      return expr;
    };
    switch (token.kind) {
      case Kind::kName:
        if (token.text == "true" || token.text == "True") return literal(Value(true));
        if (token.text == "false" || token.text == "False") return literal(Value(false));
        if (token.text == "none" || token.text == "None") return literal(Value(None{}));
        return MakeExpr(Expr::Kind::kName, line, token.text);
      case Kind::kString: {
        std::string text = token.text;
        while (Peek().kind == Kind::kString) text += Next().text;  // adjacent strings join
        return literal(Value(std::move(text)));
      }
      case Kind::kInteger: {
        int64_t value = 0;
        const auto [end, error] =
            std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (error != std::errc()) Fail(line, "integer literal ", token.text, " is out of range");
        return literal(Value(value));
      }
      case Kind::kFloat:
        return literal(Value(std::stod(token.text)));
      case Kind::kOperator:
        if (token.text == "(") {
          ExprPtr inner = ParseExpression();
          if (IsOp(",")) return ParseSequence(line, std::move(inner), ")");  // a tuple
          ExpectOp(")");
          return inner;
        }
        if (token.text == "[") return ParseSequence(line, nullptr, "]");
        if (token.text == "{") return ParseDict(line);
        break;
      default:
        break;
    }
    Fail(line, "unexpected ", Describe(token), " in an expression");
  }

  // A list literal up to "]", or a tuple literal up to ")" after `first`.
  ExprPtr ParseSequence(int line, ExprPtr first, const char* close) {
    auto list = MakeExpr(Expr::Kind::kList, line, std::string(close) == ")" ? "tuple" : "");
    if (first) {
      list->children.push_back(std::move(first));
      Next();  // ,
    }
    while (!IsOp(close)) {
      list->children.push_back(ParseExpression());
      if (!IsOp(close)) ExpectOp(",");
    }
    Next();
    return list;
  }

  ExprPtr ParseDict(int line) {
    auto dict = MakeExpr(Expr::Kind::kDict, line);
    while (!IsOp("}")) {
      dict->children.push_back(ParseExpression());
      ExpectOp(":");
      dict->children.push_back(ParseExpression());
      if (!IsOp("}")) ExpectOp(",");
    }
    Next();
    return dict;
  }

  ExprPtr ParsePostfix(ExprPtr expr) {
    while (true) {
      const int line = Peek().line;
      if (IsOp(".")) {
        Next();
        if (Peek().kind == Kind::kInteger) {
          auto item = MakeExpr(Expr::Kind::kItem, line);
          item->children.push_back(std::move(expr));
          item->children.push_back(ParsePrimary());
          expr = std::move(item);
        } else {
          auto attribute = MakeExpr(Expr::Kind::kAttribute, line, ExpectName());
          attribute->children.push_back(std::move(expr));
          expr = std::move(attribute);
        }
      } else if (IsOp("[")) {
        Next();
        expr = ParseSubscript(std::move(expr), line);
      } else if (IsOp("(")) {
        Next();
        auto call = MakeExpr(Expr::Kind::kCall, line);
        call->children.push_back(std::move(expr));
        ParseArguments(*call);
        expr = std::move(call);
      } else {
        return expr;
      }
    }
  }

  ExprPtr ParseSubscript(ExprPtr object, int line) {
    ExprPtr parts[3];
    int colons = 0;
    while (!IsOp("]")) {
      if (IsOp(":")) {
        Next();
        if (++colons > 2) Fail(line, "a slice takes at most two ':'");
      } else {
        if (parts[colons]) Fail(line, "expected ']' or ':' in a subscript");
        parts[colons] = ParseExpression();
      }
    }
    Next();
    auto expr = MakeExpr(colons ? Expr::Kind::kSlice : Expr::Kind::kItem, line);
    expr->children.push_back(std::move(object));
    if (!colons) {
      if (!parts[0]) Fail(line, "empty subscript []");
      expr->children.push_back(std::move(parts[0]));
    } else {
      for (auto& part : parts) expr->children.push_back(std::move(part));
    }
    return expr;
  }

  // Arguments after "(" up to ")": positional ones into children, name=value into keywords.
  void ParseArguments(Expr& call) {
    while (!IsOp(")")) {
      if (IsOp("*") || IsOp("**"))
        Fail(Peek().line, "*args and **kwargs in calls are not supported");
      if (Peek().kind == Kind::kName && IsOp("=", 1)) {
        std::string name = Next().text;
        Next();
        call.keywords.emplace_back(std::move(name), ParseExpression());
      } else {
        if (!call.keywords.empty())
          Fail(Peek().line, "a positional argument follows a keyword argument");
        call.children.push_back(ParseExpression());
      }
      if (!IsOp(")")) ExpectOp(",");
    }
    Next();
  }

  ExprPtr ParseFilters(ExprPtr expr) {
    while (true) {
      const int line = Peek().line;
      if (IsOp("|")) {
        Next();
        const std::string name = ExpectName();
        if (!IsFilter(name)) Fail(line, "unknown filter '", name, "'");
        auto filter = MakeExpr(Expr::Kind::kFilter, line, name);
        filter->children.push_back(std::move(expr));
        if (IsOp("(")) {
          Next();
          ParseArguments(*filter);
        }
        expr = std::move(filter);
      } else if (IsName("is")) {
        Next();
        auto test = MakeExpr(Expr::Kind::kTest, line);
        if (IsName("not")) {
          Next();
          test->negated = true;
        }
        test->name = ExpectName();
        if (!IsTest(test->name)) Fail(line, "unknown test '", test->name, "'");
        test->children.push_back(std::move(expr));
        const Kind next = Peek().kind;
        if (IsOp("(")) {
          Next();
          ParseArguments(*test);
        } else if ((next == Kind::kName || next == Kind::kString || next == Kind::kInteger ||
                    next == Kind::kFloat || IsOp("[") || IsOp("{")) &&
                   !IsName("else") && !IsName("or") && !IsName("and")) {
          test->children.push_back(ParsePostfix(ParsePrimary()));
        }
        expr = std::move(test);
      } else if (IsOp("(")) {
        Next();
        auto call = MakeExpr(Expr::Kind::kCall, line);
        call->children.push_back(std::move(expr));
        ParseArguments(*call);
        expr = std::move(call);
      } else {
        return expr;
      }
    }
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body Parse(const std::vector<Token>& tokens) { return Parser(tokens).ParseTemplate(); }

}  // namespace lightvlm::jinja
