#include "io/jinja/renderer.h"

#include <optional>
#include <unordered_map>

#include "io/jinja/filters.h"
#include "io/jinja/lexer.h"
#include "io/jinja/operations.h"
#include "io/jinja/parser.h"

namespace lightvlm::jinja {
namespace {

// Variables of one scope: the template's top level, one loop iteration, one macro call.
struct Scope {
  std::unordered_map<std::string, Value> variables;
  const Scope* parent = nullptr;
};

enum class Flow { kNormal, kBreak, kContinue };

class Renderer {
 public:
  Renderer(const RenderLimits& limits, std::string& out) : limits_(limits), out_(&out) {}

  // A namespace may hold itself ({% set ns.me = [ns] %}) or a long chain of others: emptying
  // them all here frees them without leaks or deep recursion.
  ~Renderer() {
    for (const auto& ns : namespaces_) ns->attributes.clear();
  }

  void Run(const Body& body, const Value& context) {
    if (!context.is_dict()) Fail("chat template context must be a dict, not ", context.type_name());
    for (const auto& [name, value] : context.as_dict()) root_.variables[name] = value;
    Exec(body, root_);
  }

 private:
  template <class... Args>
  [[noreturn]] static void FailAt(int line, const Args&... args) {
    Fail("chat template line ", line, ": ", args...);
  }

  void Step(int line, int64_t cost = 1) {
    steps_ += cost;
    if (steps_ > limits_.max_steps) {
      FailAt(line, "rendering exceeded the limit of ", limits_.max_steps,
             " evaluation steps (a loop that runs too long?)");
    }
  }

  void Append(const std::string& text, int line) {
    if (out_->size() + text.size() > limits_.max_output_bytes) {
      FailAt(line, "the output exceeds the limit of ", limits_.max_output_bytes, " bytes");
    }
    *out_ += text;
  }

  Flow Exec(const Body& body, Scope& scope) {
    for (const auto& stmt : body) {
      const Flow flow = Exec(*stmt, scope);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow Exec(const Stmt& stmt, Scope& scope) {
    try {
      return ExecUnlocated(stmt, scope);
    } catch (const TemplateError& error) {
      FailAt(stmt.line, error.what());
    }
  }

  Flow ExecUnlocated(const Stmt& stmt, Scope& scope) {
    Step(stmt.line);
    switch (stmt.kind) {
      case Stmt::Kind::kText:
        Append(stmt.text, stmt.line);
        break;
      case Stmt::Kind::kOutput:
        Append(ToStr(Eval(*stmt.expr, scope)), stmt.line);
        break;
      case Stmt::Kind::kIf:
        for (size_t i = 0; i < stmt.bodies.size(); ++i) {
          if (i == stmt.conditions.size() || Truthy(Eval(*stmt.conditions[i], scope))) {
            return Exec(stmt.bodies[i], scope);
          }
        }
        break;
      case Stmt::Kind::kFor:
        ExecFor(stmt, scope);
        break;
      case Stmt::Kind::kSet:
        Assign(stmt, Eval(*stmt.expr, scope), scope);
        break;
      case Stmt::Kind::kSetBlock:
        scope.variables[stmt.targets[0]] = Value(Capture(stmt.bodies[0], scope));
        break;
      case Stmt::Kind::kMacro:
        DefineMacro(stmt, scope);
        break;
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
      case Stmt::Kind::kScope:
        return Exec(stmt.bodies[0], scope);
    }
    return Flow::kNormal;
  }

  // Renders `body` into a string of its own (block set, macro call).
  std::string Capture(const Body& body, Scope& scope) {
    std::string captured;
    std::string* outer = out_;
    out_ = &captured;
    try {
      Exec(body, scope);
    } catch (...) {
      out_ = outer;
      throw;
    }
    out_ = outer;
    return captured;
  }

  void Assign(const Stmt& stmt, const Value& value, Scope& scope) {
    const std::string& target = stmt.targets[0];
    if (const size_t dot = target.find('.'); dot != std::string::npos) {
      const Value object = Lookup(target.substr(0, dot), scope);
      if (!object.is_namespace()) {
        FailAt(stmt.line, "cannot assign attribute on a ", object.type_name(),
               " (only on a namespace())");
      }
      Dict& attributes = object.as_namespace().attributes;
      const std::string name = target.substr(dot + 1);
      for (auto& [key, existing] : attributes) {
        if (key == name) {
          existing = value;
          return;
        }
      }
      attributes.emplace_back(name, value);
      return;
    }
    if (stmt.targets.size() == 1) {
      scope.variables[target] = value;
      return;
    }
    Unpack(stmt.targets, value, scope, stmt.line);
  }

  void Unpack(const std::vector<std::string>& targets, const Value& value, Scope& scope, int line) {
    if (!value.is_list() || value.as_list().size() != targets.size()) {
      FailAt(line, "cannot unpack ", value.type_name(), " into ", targets.size(), " names");
    }
    for (size_t i = 0; i < targets.size(); ++i) scope.variables[targets[i]] = value.as_list()[i];
  }

  void ExecFor(const Stmt& stmt, Scope& scope) {
    List items = ItemsOf(Eval(*stmt.expr, scope), "for");
    if (!stmt.conditions.empty()) {  // {% for x in xs if cond %} filters before loop.* counts
      List kept;
      for (const Value& item : items) {
        Step(stmt.line);
        Scope filter_scope{{}, &scope};
        Bind(stmt, item, filter_scope);
        if (Truthy(Eval(*stmt.conditions[0], filter_scope))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const auto length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      Step(stmt.line);
      Scope iteration{{}, &scope};
      Bind(stmt, items[static_cast<size_t>(i)], iteration);
      iteration.variables["loop"] = LoopObject(items, i);
      if (Exec(stmt.bodies[0], iteration) == Flow::kBreak) break;
    }
    if (items.empty() && stmt.bodies.size() > 1) Exec(stmt.bodies[1], scope);
  }

  void Bind(const Stmt& stmt, const Value& item, Scope& scope) {
    if (stmt.targets.size() == 1) {
      scope.variables[stmt.targets[0]] = item;
    } else {
      Unpack(stmt.targets, item, scope, stmt.line);
    }
  }

  static Value LoopObject(const List& items, int64_t i) {
    const auto length = static_cast<int64_t>(items.size());
    const size_t index = static_cast<size_t>(i);
    Dict loop = {
        {"index0", Value(i)},
        {"index", Value(i + 1)},
        {"revindex0", Value(length - i - 1)},
        {"revindex", Value(length - i)},
        {"first", Value(i == 0)},
        {"last", Value(i == length - 1)},
        {"length", Value(length)},
        {"depth", Value(int64_t{1})},
        {"depth0", Value(int64_t{0})},
        {"previtem", i > 0 ? items[index - 1] : Value::MakeUndefined("previtem")},
        {"nextitem", i + 1 < length ? items[index + 1] : Value::MakeUndefined("nextitem")},
        {"cycle",
         Value(Callable{"loop.cycle",
                        [i](const CallArgs& args) {
                          if (args.positional.empty())
                            Throw("loop.cycle() needs at least one value");
                          return args.positional[static_cast<size_t>(i) % args.positional.size()];
                        }})},
    };
    return Value(std::move(loop));
  }

  void DefineMacro(const Stmt& stmt, Scope& scope) {
    const Stmt* macro = &stmt;
    scope.variables[stmt.targets[0]] = Value(Callable{
        stmt.targets[0], [this, macro](const CallArgs& args) { return CallMacro(*macro, args); }});
  }

  Value CallMacro(const Stmt& macro, const CallArgs& args) {
    const size_t parameters = macro.targets.size() - 1;
    if (args.positional.size() > parameters) {
      Throw("macro '", macro.targets[0], "' takes at most ", parameters, " arguments");
    }
    if (macro_depth_ >= limits_.max_macro_depth) {
      Throw("macro calls nested deeper than ", limits_.max_macro_depth, " (runaway recursion?)");
    }
    Scope call{{}, &root_};
    for (size_t p = 0; p < parameters; ++p) {
      const std::string& name = macro.targets[p + 1];
      std::optional<Value> value;
      if (p < args.positional.size()) value = args.positional[p];
      for (const auto& [key, given] : args.keyword) {
        if (key == name) value = given;
      }
      if (!value && macro.defaults[p]) value = Eval(*macro.defaults[p], call);
      call.variables[name] = value ? *value : Value::MakeUndefined(name);
    }
    for (const auto& [key, given] : args.keyword) {
      bool known = false;
      for (size_t p = 1; p <= parameters; ++p) known |= macro.targets[p] == key;
      if (!known) Throw("macro '", macro.targets[0], "' has no parameter '", key, "'");
    }
    ++macro_depth_;
    std::string result;
    try {
      result = Capture(macro.bodies[0], call);
    } catch (...) {
      --macro_depth_;
      throw;
    }
    --macro_depth_;
    return Value(std::move(result));
  }

  Value Lookup(const std::string& name, const Scope& scope) {
    for (const Scope* s = &scope; s; s = s->parent) {
      const auto it = s->variables.find(name);
      if (it != s->variables.end()) return it->second;
    }
    if (const auto global = Global(name)) return *global;
    return Value::MakeUndefined(name);
  }

  // The globals of transformers' environment that chat templates use.
  std::optional<Value> Global(const std::string& name) {
    if (name == "range") {
      return Value(Callable{
          "range", [](const CallArgs& args) {
            if (args.positional.empty() || args.positional.size() > 3 || !args.keyword.empty()) {
              Throw("range() takes 1 to 3 integer arguments");
            }
            for (const Value& v : args.positional) {
              if (!v.is_int() && !v.is_bool())
                Throw("range() arguments must be integers, not ", v.type_name());
            }
            const bool one = args.positional.size() == 1;
            const int64_t start = one ? 0 : args.positional[0].as_int();
            const int64_t stop = one ? args.positional[0].as_int() : args.positional[1].as_int();
            const int64_t step = args.positional.size() == 3 ? args.positional[2].as_int() : 1;
            if (step == 0) Throw("range() step must not be zero");
            const __int128 span = step > 0 ? __int128{stop} - start : __int128{start} - stop;
            const __int128 count = span <= 0 ? 0
                                             : (span + (step > 0 ? step : -__int128{step}) - 1) /
                                                   (step > 0 ? step : -__int128{step});
            if (count > kMaxRange)
              Throw("range() of ", static_cast<int64_t>(count), " items exceeds the limit of ",
                    kMaxRange);
            List items;
            for (int64_t k = 0; k < static_cast<int64_t>(count); ++k)
              items.emplace_back(start + k * step);
            return Value(std::move(items));
          }});
    }
    if (name == "namespace" || name == "dict") {
      const bool is_namespace = name == "namespace";
      return Value(Callable{
          name, [this, is_namespace](const CallArgs& args) {
            Dict attributes;
            for (const Value& initial : args.positional) {
              if (!initial.is_dict())
                Throw(is_namespace ? "namespace" : "dict", "() takes keyword arguments or a dict");
              attributes.insert(attributes.end(), initial.as_dict().begin(),
                                initial.as_dict().end());
            }
            attributes.insert(attributes.end(), args.keyword.begin(), args.keyword.end());
            if (!is_namespace) return Value(std::move(attributes));
            auto ns = std::make_shared<Namespace>();
            ns->attributes = std::move(attributes);
            namespaces_.push_back(ns);
            return Value(std::move(ns));
          }});
    }
    if (name == "raise_exception") {
      return Value(Callable{name, [](const CallArgs& args) -> Value {
                              Throw("the template raised an error: ",
                                    args.positional.empty() ? "" : ToStr(args.positional[0]));
                            }});
    }
    return std::nullopt;
  }

  Value Eval(const Expr& expr, const Scope& scope) {
    Step(expr.line);
    try {
      Value result = EvalUnlocated(expr, scope);
      if (result.is_string()) Step(expr.line, static_cast<int64_t>(result.as_string().size() / 64));
      return result;
    } catch (const TemplateError& error) {
      FailAt(expr.line, error.what());
    }
  }

  CallArgs EvalArguments(const Expr& expr, size_t first, const Scope& scope) {
    CallArgs args;
    for (size_t i = first; i < expr.children.size(); ++i)
      args.positional.push_back(Eval(*expr.children[i], scope));
    for (const auto& [name, value] : expr.keywords)
      args.keyword.emplace_back(name, Eval(*value, scope));
    return args;
  }

  Value EvalUnlocated(const Expr& expr, const Scope& scope) {
    switch (expr.kind) {
      case Expr::Kind::kLiteral:
        return expr.literal;
      case Expr::Kind::kName:
        return Lookup(expr.name, scope);
      case Expr::Kind::kList: {
        List items;
        for (const auto& child : expr.children) items.push_back(Eval(*child, scope));
        return expr.name == "tuple" ? Value::Tuple(std::move(items)) : Value(std::move(items));
      }
      case Expr::Kind::kDict: {
        Dict dict;
        for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
          const Value key = Eval(*expr.children[i], scope);
          if (!key.is_string()) Throw("dict keys must be strings here, not ", key.type_name());
          Value value = Eval(*expr.children[i + 1], scope);
          bool replaced = false;
          for (auto& [k, v] : dict) {
            if (k == key.as_string()) {
              v = value;
              replaced = true;
            }
          }
          if (!replaced) dict.emplace_back(key.as_string(), std::move(value));
        }
        return Value(std::move(dict));
      }
      case Expr::Kind::kAttribute:
        return GetAttribute(Eval(*expr.children[0], scope), expr.name);
      case Expr::Kind::kItem:
        return GetItem(Eval(*expr.children[0], scope), Eval(*expr.children[1], scope));
      case Expr::Kind::kSlice: {
        const Value object = Eval(*expr.children[0], scope);
        std::optional<Value> parts[3];
        for (size_t i = 0; i < 3; ++i) {
          if (expr.children[i + 1]) parts[i] = Eval(*expr.children[i + 1], scope);
        }
        return Slice(object, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::kCall: {
        const Value callee = Eval(*expr.children[0], scope);
        if (callee.is_undefined())
          Throw("'", callee.undefined_name(), "' is undefined, so it cannot be called");
        if (!callee.is_callable()) Throw("'", callee.type_name(), "' object is not callable");
        return callee.as_callable().call(EvalArguments(expr, 1, scope));
      }
      case Expr::Kind::kFilter:
        return ApplyFilter(expr.name, Eval(*expr.children[0], scope),
                           EvalArguments(expr, 1, scope));
      case Expr::Kind::kTest:
        return Value(ApplyTest(expr.name, Eval(*expr.children[0], scope),
                               EvalArguments(expr, 1, scope)) != expr.negated);
      case Expr::Kind::kUnary: {
        const Value operand = Eval(*expr.children[0], scope);
        if (expr.name == "not") return Value(!Truthy(operand));
        if (!operand.is_number())
          Throw("bad operand type for unary ", expr.name, ": '", operand.type_name(), "'");
        if (expr.name == "+") return operand.is_float() ? operand : Value(operand.as_int());
        if (operand.is_float()) return Value(-operand.as_float());  // keeps -0.0
        return BinaryOp("-", Value(int64_t{0}), operand);
      }
      case Expr::Kind::kBinary: {
        const Value left = Eval(*expr.children[0], scope);
        if (expr.name == "and") return Truthy(left) ? Eval(*expr.children[1], scope) : left;
        if (expr.name == "or") return Truthy(left) ? left : Eval(*expr.children[1], scope);
        const Value right = Eval(*expr.children[1], scope);
        if (expr.name == "in") return Value(Contains(right, left));
        if (expr.name == "not in") return Value(!Contains(right, left));
        return BinaryOp(expr.name, left, right);
      }
      case Expr::Kind::kCondition:
        if (Truthy(Eval(*expr.children[0], scope))) return Eval(*expr.children[1], scope);
        return expr.children[2] ? Eval(*expr.children[2], scope) : Value::MakeUndefined("else");
    }
    Throw("unknown expression");
  }

  const RenderLimits& limits_;
  std::string* out_;
  Scope root_;
  int64_t steps_ = 0;
  int macro_depth_ = 0;
  std::vector<std::shared_ptr<Namespace>> namespaces_;  // every namespace() made
};

}  // namespace

Template::Template(std::string_view source) : body_(Parse(Tokenize(source))) {}

std::string Template::Render(const Value& context, const RenderLimits& limits) const {
  std::string out;
  Renderer(limits, out).Run(body_, context);
  return out;
}

}  // namespace lightvlm::jinja
