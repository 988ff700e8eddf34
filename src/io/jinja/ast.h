// The syntax tree of a parsed template: expressions and statements, each with its line.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/jinja/value.h"

namespace lightvlm::jinja {

struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kList,       // [children...], or a tuple when name is "tuple"
    kDict,       // {children[0]: children[1], ...}
    kAttribute,  // children[0].name
    kItem,       // children[0][children[1]]
    kSlice,      // children[0][children[1]:children[2]:children[3]], absent parts null
    kCall,       // children[0](children[1...], keywords)
    kFilter,     // children[0] | name(children[1...], keywords)
    kTest,       // children[0] is [not] name(children[1...])
    kUnary,      // op children[0]: "not", "-", "+"
    kBinary,     // children[0] op children[1]; op includes "and", "or", "in", "not in"
    kCondition,  // children[1] if children[0] else children[2] (children[2] null: undefined)
  };
  Kind kind;
  int line;
  std::string name;      // name, attribute, filter, test or operator
  bool negated = false;  // "is not"
  Value literal;
  std::vector<std::unique_ptr<Expr>> children;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> keywords;
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // conditions[i] -> bodies[i]; bodies.back() is the else body when longer
    kFor,       // for targets in expr [if conditions[0]]: bodies[0], else bodies[1]
    kSet,       // set targets (a name, "ns.attr", or several names) = expr
    kSetBlock,  // set targets[0]: bodies[0] rendered
    kMacro,     // macro targets[0](targets[1...] with defaults) : bodies[0]
    kBreak,
    kContinue,
    kScope,  // bodies[0] as is ({% generation %})
  };
  Kind kind;
  int line;
  std::string text;
  std::vector<std::string> targets;
  std::unique_ptr<Expr> expr;
  std::vector<std::unique_ptr<Expr>> conditions;
  std::vector<std::unique_ptr<Expr>> defaults;  // kMacro: one per parameter, null when none
  std::vector<Body> bodies;
};

}  // namespace lightvlm::jinja
