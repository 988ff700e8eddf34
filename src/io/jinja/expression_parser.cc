#include "io/jinja/expression_parser.h"

#include <charconv>
#include <cstdlib>

#include "io/jinja/filters.h"

namespace lightvlm::jinja {
namespace {

using ExprPtr = std::unique_ptr<Expr>;

// jinja2's expression grammar, loosest binding first: conditional, or, and, not, comparison,
// + -, ~, * / // %, **, unary - +, then primaries with their postfixes and | filters / is tests.
class ExpressionParser {
 public:
  explicit ExpressionParser(TokenStream& in) : in_(in) {}

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
    in_.Enter(in_.Peek().line);
    ExprPtr expr = ParseOr();
    while (in_.IsName("if")) {
      const int line = in_.Next().line;
      auto condition = MakeExpr(Expr::Kind::kCondition, line);
      condition->children.push_back(ParseOr());
      condition->children.push_back(std::move(expr));
      if (in_.IsName("else")) {
        in_.Next();
        condition->children.push_back(ParseExpression());
      } else {
        condition->children.push_back(nullptr);
      }
      expr = std::move(condition);
    }
    in_.Leave();
    return expr;
  }

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (in_.IsName("or")) {
      const int line = in_.Next().line;
      left = Binary("or", std::move(left), ParseAnd(), line);
    }
    return left;
  }
  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (in_.IsName("and")) {
      const int line = in_.Next().line;
      left = Binary("and", std::move(left), ParseNot(), line);
    }
    return left;
  }
  ExprPtr ParseNot() {
    if (in_.IsName("not")) {
      const int line = in_.Next().line;
      in_.Enter(line);
      auto expr = MakeExpr(Expr::Kind::kUnary, line, "not");
      expr->children.push_back(ParseNot());
      in_.Leave();
      return expr;
    }
    return ParseCompare();
  }
  ExprPtr ParseCompare() {
    ExprPtr left = ParseMath1();
    int comparisons = 0;
    while (true) {
      std::string op;
      const int line = in_.Peek().line;
      if (in_.Peek().kind == Token::Kind::kOperator &&
          (in_.IsOp("==") || in_.IsOp("!=") || in_.IsOp("<") || in_.IsOp("<=") || in_.IsOp(">") ||
           in_.IsOp(">="))) {
        op = in_.Next().text;
      } else if (in_.IsName("in")) {
        in_.Next();
        op = "in";
      } else if (in_.IsName("not") && in_.IsName("in", 1)) {
        in_.Next();
        in_.Next();
        op = "not in";
      } else {
        return left;
      }
      if (++comparisons > 1) in_.Fail(line, "chained comparisons (a < b < c) are not supported");
      left = Binary(op, std::move(left), ParseMath1(), line);
    }
  }
  ExprPtr ParseMath1() {
    ExprPtr left = ParseConcat();
    while (in_.IsOp("+") || in_.IsOp("-")) {
      const Token& op = in_.Next();
      left = Binary(op.text, std::move(left), ParseConcat(), op.line);
    }
    return left;
  }
  ExprPtr ParseConcat() {
    ExprPtr left = ParseMath2();
    while (in_.IsOp("~")) {
      const int line = in_.Next().line;
      left = Binary("~", std::move(left), ParseMath2(), line);
    }
    return left;
  }
  ExprPtr ParseMath2() {
    ExprPtr left = ParsePow();
    while (in_.IsOp("*") || in_.IsOp("/") || in_.IsOp("//") || in_.IsOp("%")) {
      const Token& op = in_.Next();
      left = Binary(op.text, std::move(left), ParsePow(), op.line);
    }
    return left;
  }
  ExprPtr ParsePow() {
    ExprPtr left = ParseUnary(true);
    while (in_.IsOp("**")) {
      const int line = in_.Next().line;
      left = Binary("**", std::move(left), ParseUnary(true), line);
    }
    return left;
  }
  ExprPtr ParseUnary(bool with_filter) {
    const int line = in_.Peek().line;
    in_.Enter(line);
    ExprPtr expr;
    if (in_.IsOp("-") || in_.IsOp("+")) {
      expr = MakeExpr(Expr::Kind::kUnary, line, in_.Next().text);
      expr->children.push_back(ParseUnary(false));
    } else {
      expr = ParsePrimary();
    }
    expr = ParsePostfix(std::move(expr));
    if (with_filter) expr = ParseFilters(std::move(expr));
    in_.Leave();
    return expr;
  }

  ExprPtr ParsePrimary() {
    const Token& token = in_.Next();
    const int line = token.line;
    auto literal = [&](Value value) {
      auto expr = MakeExpr(Expr::Kind::kLiteral, line);
      expr->literal = std::move(value);
      return expr;
    };
    switch (token.kind) {
      case Token::Kind::kName:
        if (token.text == "true" || token.text == "True") return literal(Value(true));
        if (token.text == "false" || token.text == "False") return literal(Value(false));
        if (token.text == "none" || token.text == "None") return literal(Value(None{}));
        return MakeExpr(Expr::Kind::kName, line, token.text);
      case Token::Kind::kString: {
        std::string text = token.text;
        while (in_.Peek().kind == Token::Kind::kString)
          text += in_.Next().text;  // adjacent strings join
        return literal(Value(std::move(text)));
      }
      case Token::Kind::kInteger: {
        int64_t value = 0;
        const auto [end, error] =
            std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (error != std::errc())
          in_.Fail(line, "integer literal ", token.text, " is out of range");
        return literal(Value(value));
      }
      case Token::Kind::kFloat:
        // strtod, as Python's float(): a literal past the double range is inf (or 0), not an
        // error (std::stod would throw std::out_of_range).
        return literal(Value(std::strtod(token.text.c_str(), nullptr)));
      case Token::Kind::kOperator:
        if (token.text == "(") {
          ExprPtr inner = ParseExpression();
          if (in_.IsOp(",")) return ParseSequence(line, std::move(inner), ")");  // a tuple
          in_.ExpectOp(")");
          return inner;
        }
        if (token.text == "[") return ParseSequence(line, nullptr, "]");
        if (token.text == "{") return ParseDict(line);
        break;
      default:
        break;
    }
    in_.Fail(line, "unexpected ", in_.Describe(token), " in an expression");
  }

  // A list literal up to "]", or a tuple literal up to ")" after `first`.
  ExprPtr ParseSequence(int line, ExprPtr first, const char* close) {
    auto list = MakeExpr(Expr::Kind::kList, line, std::string(close) == ")" ? "tuple" : "");
    if (first) {
      list->children.push_back(std::move(first));
      in_.Next();  // ,
    }
    while (!in_.IsOp(close)) {
      list->children.push_back(ParseExpression());
      if (!in_.IsOp(close)) in_.ExpectOp(",");
    }
    in_.Next();
    return list;
  }

  ExprPtr ParseDict(int line) {
    auto dict = MakeExpr(Expr::Kind::kDict, line);
    while (!in_.IsOp("}")) {
      dict->children.push_back(ParseExpression());
      in_.ExpectOp(":");
      dict->children.push_back(ParseExpression());
      if (!in_.IsOp("}")) in_.ExpectOp(",");
    }
    in_.Next();
    return dict;
  }

  ExprPtr ParsePostfix(ExprPtr expr) {
    while (true) {
      const int line = in_.Peek().line;
      if (in_.IsOp(".")) {
        in_.Next();
        if (in_.Peek().kind == Token::Kind::kInteger) {
          auto item = MakeExpr(Expr::Kind::kItem, line);
          item->children.push_back(std::move(expr));
          item->children.push_back(ParsePrimary());
          expr = std::move(item);
        } else {
          auto attribute = MakeExpr(Expr::Kind::kAttribute, line, in_.ExpectName());
          attribute->children.push_back(std::move(expr));
          expr = std::move(attribute);
        }
      } else if (in_.IsOp("[")) {
        in_.Next();
        expr = ParseSubscript(std::move(expr), line);
      } else if (in_.IsOp("(")) {
        in_.Next();
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
    while (!in_.IsOp("]")) {
      if (in_.IsOp(":")) {
        in_.Next();
        if (++colons > 2) in_.Fail(line, "a slice takes at most two ':'");
      } else {
        if (parts[colons]) in_.Fail(line, "expected ']' or ':' in a subscript");
        parts[colons] = ParseExpression();
      }
    }
    in_.Next();
    auto expr = MakeExpr(colons ? Expr::Kind::kSlice : Expr::Kind::kItem, line);
    expr->children.push_back(std::move(object));
    if (!colons) {
      if (!parts[0]) in_.Fail(line, "empty subscript []");
      expr->children.push_back(std::move(parts[0]));
    } else {
      for (auto& part : parts) expr->children.push_back(std::move(part));
    }
    return expr;
  }

  // Arguments after "(" up to ")": positional ones into children, name=value into keywords.
  void ParseArguments(Expr& call) {
    while (!in_.IsOp(")")) {
      if (in_.IsOp("*") || in_.IsOp("**"))
        in_.Fail(in_.Peek().line, "*args and **kwargs in calls are not supported");
      if (in_.Peek().kind == Token::Kind::kName && in_.IsOp("=", 1)) {
        std::string name = in_.Next().text;
        in_.Next();
        call.keywords.emplace_back(std::move(name), ParseExpression());
      } else {
        if (!call.keywords.empty())
          in_.Fail(in_.Peek().line, "a positional argument follows a keyword argument");
        call.children.push_back(ParseExpression());
      }
      if (!in_.IsOp(")")) in_.ExpectOp(",");
    }
    in_.Next();
  }

  ExprPtr ParseFilters(ExprPtr expr) {
    while (true) {
      const int line = in_.Peek().line;
      if (in_.IsOp("|")) {
        in_.Next();
        const std::string name = in_.ExpectName();
        if (!IsFilter(name)) in_.Fail(line, "unknown filter '", name, "'");
        auto filter = MakeExpr(Expr::Kind::kFilter, line, name);
        filter->children.push_back(std::move(expr));
        if (in_.IsOp("(")) {
          in_.Next();
          ParseArguments(*filter);
        }
        expr = std::move(filter);
      } else if (in_.IsName("is")) {
        in_.Next();
        auto test = MakeExpr(Expr::Kind::kTest, line);
        if (in_.IsName("not")) {
          in_.Next();
          test->negated = true;
        }
        test->name = in_.ExpectName();
        if (!IsTest(test->name)) in_.Fail(line, "unknown test '", test->name, "'");
        test->children.push_back(std::move(expr));
        const Token::Kind next = in_.Peek().kind;
        if (in_.IsOp("(")) {
          in_.Next();
          ParseArguments(*test);
        } else if ((next == Token::Kind::kName || next == Token::Kind::kString ||
                    next == Token::Kind::kInteger || next == Token::Kind::kFloat || in_.IsOp("[") ||
                    in_.IsOp("{")) &&
                   !in_.IsName("else") && !in_.IsName("or") && !in_.IsName("and")) {
          test->children.push_back(ParsePostfix(ParsePrimary()));
        }
        expr = std::move(test);
      } else if (in_.IsOp("(")) {
        in_.Next();
        auto call = MakeExpr(Expr::Kind::kCall, line);
        call->children.push_back(std::move(expr));
        ParseArguments(*call);
        expr = std::move(call);
      } else {
        return expr;
      }
    }
  }

 private:
  TokenStream& in_;
};

}  // namespace

std::unique_ptr<Expr> ParseExpression(TokenStream& in) {
  return ExpressionParser(in).ParseExpression();
}

std::unique_ptr<Expr> ParseOrExpression(TokenStream& in) { return ExpressionParser(in).ParseOr(); }

}  // namespace lightvlm::jinja
