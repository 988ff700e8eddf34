// The values a chat template computes with, behaving as Python's do under Jinja (truthiness,
// equality, ordering, str() and repr()), built from the JSON context the engine passes in.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace lightvlm::jinja {

// A template error without a line yet; the renderer adds the line of the expression at fault.
class TemplateError : public Error {
 public:
  using Error::Error;
};

template <class... Args>
[[noreturn]] void Throw(const Args&... args) {
  throw TemplateError(StrCat(args...));
}

// Bounds on what a template may build, so a hostile one fails instead of exhausting memory.
constexpr size_t kMaxStringBytes = size_t{16} << 20;
constexpr size_t kMaxListItems = size_t{1} << 20;
// Values nest at most this deep, so printing, comparing and freeing them cannot exhaust the stack.
constexpr int kMaxValueDepth = 256;
void CheckStringSize(size_t bytes);
void CheckListSize(size_t items);

class Value;
struct CallArgs;
using List = std::vector<Value>;
// Python dicts keep insertion order, which tojson and items() show, so a dict is a list of pairs
// (chat-template dicts are small).
using Dict = std::vector<std::pair<std::string, Value>>;
struct Callable {
  std::string name;
  std::function<Value(const CallArgs&)> call;
};

// An undefined name or missing attribute: prints as "", is false and empty, and names itself
// when used where a value is needed.
struct Undefined {
  std::string name;
};
struct None {};
// jinja2's namespace(): the one mutable object a template has.
struct Namespace {
  Dict attributes;
};

class Value {
 public:
  using Storage =
      std::variant<Undefined, None, bool, int64_t, double, std::shared_ptr<const std::string>,
                   std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                   std::shared_ptr<Namespace>, std::shared_ptr<const Callable>>;

  Value() : storage_(Undefined{}) {}
  Value(None) : storage_(None{}) {}
  Value(bool b) : storage_(b) {}
  Value(int64_t i) : storage_(i) {}
  Value(double d) : storage_(d) {}
  Value(std::string s) : storage_(std::make_shared<const std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}
  // Fail when the items nest deeper than kMaxValueDepth.
  Value(List l);
  Value(Dict d);
  Value(std::shared_ptr<Namespace> n) : storage_(std::move(n)) {}
  Value(Callable c) : storage_(std::make_shared<const Callable>(std::move(c))) {}
  // A Python tuple: a list that prints as (a, b) and differs from the list [a, b].
  static Value Tuple(List l) {
    Value v(std::move(l));
    v.tuple_ = true;
    return v;
  }
  // What jinja2's select, reject, selectattr, rejectattr and map return: a Python generator,
  // always true, without a length or a defined text; iterating it gives the items.
  static Value Generator(List l) {
    Value v(std::move(l));
    v.generator_ = true;
    return v;
  }
  static Value MakeUndefined(std::string name) {
    Value v;
    v.storage_ = Undefined{std::move(name)};
    return v;
  }

  bool is_undefined() const { return std::holds_alternative<Undefined>(storage_); }
  bool is_none() const { return std::holds_alternative<None>(storage_); }
  bool is_bool() const { return std::holds_alternative<bool>(storage_); }
  bool is_int() const { return std::holds_alternative<int64_t>(storage_); }
  bool is_float() const { return std::holds_alternative<double>(storage_); }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return holds<std::string>(); }
  bool is_list() const { return holds<List>(); }  // tuples included
  bool is_tuple() const { return tuple_; }
  bool is_generator() const { return generator_; }  // a list too
  // Levels of lists and dicts inside this value (0 for a scalar or a namespace).
  int depth() const { return depth_; }
  bool is_dict() const { return holds<Dict>(); }
  bool is_namespace() const { return std::holds_alternative<std::shared_ptr<Namespace>>(storage_); }
  bool is_callable() const { return holds<Callable>(); }

  bool as_bool() const { return std::get<bool>(storage_); }
  int64_t as_int() const;   // ints and bools (Python's bool is an int)
  double as_float() const;  // any number
  const std::string& as_string() const { return *get<std::string>(); }
  const List& as_list() const { return *get<List>(); }
  const Dict& as_dict() const { return *get<Dict>(); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(storage_); }
  const Callable& as_callable() const { return *get<Callable>(); }
  const std::string& undefined_name() const { return std::get<Undefined>(storage_).name; }

  // Python's type name, for errors ("str", "list", "dict", ...).
  std::string type_name() const;

 private:
  template <class T>
  bool holds() const {
    return std::holds_alternative<std::shared_ptr<const T>>(storage_);
  }
  template <class T>
  const std::shared_ptr<const T>& get() const {
    return std::get<std::shared_ptr<const T>>(storage_);
  }
  Storage storage_;
  bool tuple_ = false;
  bool generator_ = false;
  int depth_ = 0;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Python's bool(value); undefined is false.
bool Truthy(const Value& value);
// Python's ==, with 1 == 1.0 == True; undefined equals only undefined.
bool Equal(const Value& a, const Value& b);
// Python's <: numbers with numbers, strings by code point, lists element-wise; else an error.
bool Less(const Value& a, const Value& b);
// Python's str(): what {{ value }} prints ("" for undefined, "None", "True", "[1, 'a']").
std::string ToStr(const Value& value);
// Python's repr().
std::string Repr(const Value& value);
// Python's json.dumps(value, ensure_ascii=False, indent=indent) (indent < 0: none), which
// transformers installs as the tojson filter.
std::string ToJson(const Value& value, int indent);
// The value of a JSON node: objects keep their key order (nlohmann::ordered_json) or sort it.
Value FromJson(const nlohmann::ordered_json& json);
Value FromJson(const nlohmann::json& json);

// Code-point view of a UTF-8 string, as Python indexes and measures str.
std::vector<std::string_view> CodePoints(std::string_view text);

}  // namespace lightvlm::jinja
