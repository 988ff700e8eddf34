#include "io/jinja/filters.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include "base/parse_integer.h"
#include "io/jinja/operations.h"
#include "io/jinja/text.h"
#include "io/utf8.h"

namespace lightvlm::jinja {
namespace {

using Filter = std::function<Value(const Value&, const CallArgs&)>;
using Test = std::function<bool(const Value&, const CallArgs&)>;

// The positional or keyword argument `name` at `index`, or `fallback`.
Value Param(const CallArgs& args, size_t index, const char* name, Value fallback = Value()) {
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return index < args.positional.size() ? args.positional[index] : fallback;
}

// Filters take at most `names` arguments, each by position or by its name.
void CheckParams(const char* filter, const CallArgs& args,
                 std::initializer_list<const char*> names) {
  if (args.positional.size() > names.size()) {
    Throw("filter '", filter, "' takes at most ", names.size(), " arguments");
  }
  for (const auto& keyword : args.keyword) {
    const auto& key = keyword.first;  // not a structured binding: clang 14 cannot capture those
    if (std::find_if(names.begin(), names.end(), [&](const char* n) { return key == n; }) ==
        names.end()) {
      Throw("filter '", filter, "' has no argument '", key, "' here");
    }
  }
}

const std::string& StringSubject(const char* filter, const Value& value) {
  if (!value.is_string()) Throw("filter '", filter, "' needs a string, not ", value.type_name());
  return value.as_string();
}

// Attribute paths as select/map take them: "a.b" or "0".
Value Lookup(const Value& item, const std::string& path) {
  Value value = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const std::optional<int64_t> index = ParseInteger(part);
    value = index ? GetItem(value, Value(*index)) : GetItem(value, Value(part));
    if (dot == std::string::npos) return value;
    start = dot + 1;
  }
}

int64_t Length(const Value& value) {
  if (value.is_generator()) Throw("object of type 'generator' has no len(): add | list");
  if (value.is_string()) return static_cast<int64_t>(CodePoints(value.as_string()).size());
  if (value.is_list()) return static_cast<int64_t>(value.as_list().size());
  if (value.is_dict()) return static_cast<int64_t>(value.as_dict().size());
  if (value.is_undefined()) return 0;
  Throw("object of type '", value.type_name(), "' has no len()");
}

Value CallMethod(const Value& subject, const char* method, const CallArgs& args = {}) {
  return GetAttribute(subject, method).as_callable().call(args);
}

// select/reject/selectattr/rejectattr: keep items whose (attribute's) test result is `keep`.
Value SelectItems(const Value& sequence, const CallArgs& args, bool by_attribute, bool keep) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string())
      Throw("selectattr/rejectattr need an attribute name");
    attribute = args.positional[next++].as_string();
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) Throw("select: the test name must be a string");
    test = args.positional[next++].as_string();
    if (!IsTest(test)) Throw("unknown test '", test, "'");
  }
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next),
                              args.positional.end());
  List kept;
  for (const Value& item : ItemsOf(sequence, "select")) {
    const Value value = by_attribute ? Lookup(item, attribute) : item;
    const bool passed = test.empty() ? Truthy(value) : ApplyTest(test, value, test_args);
    if (passed == keep) kept.push_back(item);
  }
  return Value::Generator(std::move(kept));
}

Value Map(const Value& sequence, const CallArgs& args) {
  List out;
  const Value attribute = Param(args, 99, "attribute");
  if (attribute.is_string()) {
    const Value fallback = Param(args, 99, "default");
    for (const Value& item : ItemsOf(sequence, "map")) {
      Value value = Lookup(item, attribute.as_string());
      out.push_back(value.is_undefined() && !fallback.is_undefined() ? fallback : value);
    }
    return Value::Generator(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string())
    Throw("map needs a filter name or attribute=");
  const std::string filter = args.positional[0].as_string();
  if (!IsFilter(filter)) Throw("unknown filter '", filter, "'");
  CallArgs filter_args;
  filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
  filter_args.keyword = args.keyword;
  for (const Value& item : ItemsOf(sequence, "map"))
    out.push_back(ApplyFilter(filter, item, filter_args));
  return Value::Generator(std::move(out));
}

Value Join(const Value& sequence, const CallArgs& args) {
  CheckParams("join", args, {"d", "attribute"});
  const Value separator = Param(args, 0, "d", Value(""));
  const Value attribute = Param(args, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : ItemsOf(sequence, "join")) {
    if (!first) out += ToStr(separator);
    first = false;
    out += ToStr(attribute.is_undefined() ? item : Lookup(item, ToStr(attribute)));
    CheckStringSize(out.size());
  }
  return Value(std::move(out));
}

// item[0].upper() + item[1:].lower(), as jinja2's title filter does to each run.
std::string UpperFirst(const std::string& run) {
  if (run.empty()) return run;
  const size_t first = DecodeUtf8Step(run, 0).length;
  return Upper(std::string_view(run).substr(0, first)) + Lower(std::string_view(run).substr(first));
}

// jinja2's title filter: each run between spaces, "-" and opening brackets gets its first
// character upper and the rest lower.
std::string TitleFilter(const std::string& s) {
  std::string out, run;
  bool run_is_separator = false;
  for (const std::string_view point : CodePoints(s)) {
    const char32_t c = DecodeUtf8Step(point, 0).code_point;
    const bool separator =
        IsPyWhitespace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator != run_is_separator && !run.empty()) {
      out += run_is_separator ? run : UpperFirst(run);
      run.clear();
    }
    run_is_separator = separator;
    run += point;
  }
  return out + (run_is_separator ? run : UpperFirst(run));
}

Value ToNumber(const Value& value, const CallArgs& args, bool integer) {
  if (value.is_undefined())
    Throw("'", value.undefined_name(), "' is undefined (converted to a number)");
  const Value fallback = Param(args, 0, "default", integer ? Value(int64_t{0}) : Value(0.0));
  if (value.is_int() || value.is_bool())
    return integer ? Value(value.as_int()) : Value(value.as_float());
  if (value.is_float()) {
    const double d = value.as_float();
    if (!integer) return value;
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value(static_cast<int64_t>(d));
  }
  if (!value.is_string()) return fallback;
  std::string text = StripWhitespace(value.as_string(), true, true);
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') ++begin;
  if (integer) {
    int64_t result = 0;
    const auto [ptr, error] = std::from_chars(begin, end, result);
    if (error == std::errc() && ptr == end) return Value(result);
  }
  double result = 0;
  const auto [ptr, error] = std::from_chars(begin, end, result);
  if (error != std::errc() || ptr != end || begin == end) return fallback;
  if (!integer) return Value(result);
  if (!std::isfinite(result) || std::fabs(result) >= 9.2e18) return fallback;
  return Value(static_cast<int64_t>(result));
}

const std::map<std::string, Filter, std::less<>>& Filters() {
  static const auto* const filters = new std::map<std::string, Filter, std::less<>>{
      {"trim",
       [](const Value& v, const CallArgs& a) {
         CheckParams("trim", a, {"chars"});
         CallArgs strip;
         if (!Param(a, 0, "chars").is_undefined()) strip.positional.push_back(Param(a, 0, "chars"));
         return CallMethod(Value(ToStr(v)), "strip", strip);
       }},
      {"length", [](const Value& v, const CallArgs&) { return Value(Length(v)); }},
      {"count", [](const Value& v, const CallArgs&) { return Value(Length(v)); }},
      {"tojson",
       [](const Value& v, const CallArgs& a) {
         CheckParams("tojson", a, {"indent"});
         const Value indent = Param(a, 0, "indent");
         if (!indent.is_undefined() && !indent.is_none() && !indent.is_int())
           Throw("tojson: indent must be an integer");
         const int spaces =
             indent.is_int() ? static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64)) : -1;
         std::string json = ToJson(v, spaces);
         CheckStringSize(json.size());
         return Value(std::move(json));
       }},
      {"upper",
       [](const Value& v, const CallArgs&) { return CallMethod(Value(ToStr(v)), "upper"); }},
      {"lower",
       [](const Value& v, const CallArgs&) { return CallMethod(Value(ToStr(v)), "lower"); }},
      {"capitalize",
       [](const Value& v, const CallArgs&) { return CallMethod(Value(ToStr(v)), "capitalize"); }},
      {"title", [](const Value& v, const CallArgs&) { return Value(TitleFilter(ToStr(v))); }},
      {"default",
       [](const Value& v, const CallArgs& a) {
         CheckParams("default", a, {"default_value", "boolean"});
         const bool boolean = Truthy(Param(a, 1, "boolean", Value(false)));
         const bool use_default = v.is_undefined() || (boolean && !Truthy(v));
         return use_default ? Param(a, 0, "default_value", Value("")) : v;
       }},
      {"first",
       [](const Value& v, const CallArgs&) {
         const List items = ItemsOf(v, "first");
         return items.empty() ? Value::MakeUndefined("first") : items.front();
       }},
      {"last",
       [](const Value& v, const CallArgs&) {
         if (v.is_generator())
           Throw("'generator' object is not reversible: add | list before | last");
         const List items = ItemsOf(v, "last");
         return items.empty() ? Value::MakeUndefined("last") : items.back();
       }},
      {"select", [](const Value& v, const CallArgs& a) { return SelectItems(v, a, false, true); }},
      {"reject", [](const Value& v, const CallArgs& a) { return SelectItems(v, a, false, false); }},
      {"selectattr",
       [](const Value& v, const CallArgs& a) { return SelectItems(v, a, true, true); }},
      {"rejectattr",
       [](const Value& v, const CallArgs& a) { return SelectItems(v, a, true, false); }},
      {"map", Map},
      {"join", Join},
      {"replace",
       [](const Value& v, const CallArgs& a) {
         CheckParams("replace", a, {"old", "new", "count"});
         const Value count = Param(a, 2, "count", Value(None{}));
         return Value(ReplaceAll(ToStr(v), StringSubject("replace", Param(a, 0, "old")),
                                 StringSubject("replace", Param(a, 1, "new")),
                                 count.is_none() ? -1 : count.as_int()));
       }},
      {"string", [](const Value& v, const CallArgs&) { return Value(ToStr(v)); }},
      {"items",
       [](const Value& v, const CallArgs&) {  // a generator in jinja2
         if (v.is_undefined()) return Value::Generator({});
         if (!v.is_dict()) Throw("filter 'items' needs a dict, not ", v.type_name());
         return Value::Generator(CallMethod(v, "items").as_list());
       }},
      {"list", [](const Value& v, const CallArgs&) { return Value(ItemsOf(v, "list")); }},
      {"int", [](const Value& v, const CallArgs& a) { return ToNumber(v, a, true); }},
      {"float", [](const Value& v, const CallArgs& a) { return ToNumber(v, a, false); }},
      {"abs",
       [](const Value& v, const CallArgs&) {
         if (v.is_float()) return Value(std::fabs(v.as_float()));
         if (!v.is_int() && !v.is_bool())
           Throw("bad operand type for abs(): '", v.type_name(), "'");
         if (v.as_int() == INT64_MIN) Throw("integer overflow in abs");
         return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
       }},
      {"reverse",
       [](const Value& v, const CallArgs&) {
         if (v.is_string()) {
           std::string out;
           const auto points = CodePoints(v.as_string());
           for (auto it = points.rbegin(); it != points.rend(); ++it) out += *it;
           return Value(std::move(out));
         }
         // jinja2 returns reversed(value), an iterator, and for a generator a list.
         List items = ItemsOf(v, "reverse");
         std::reverse(items.begin(), items.end());
         return v.is_generator() ? Value(std::move(items)) : Value::Generator(std::move(items));
       }},
      // Autoescaping is off in transformers' environment, so safe changes nothing.
      {"safe", [](const Value& v, const CallArgs&) { return v; }},
  };
  return *filters;
}

Test Compare(const char* op) {
  return [op](const Value& v, const CallArgs& a) {
    if (a.positional.size() != 1) Throw("test '", op, "' takes one argument");
    return Truthy(BinaryOp(op, v, a.positional[0]));
  };
}

const std::map<std::string, Test, std::less<>>& Tests() {
  static const auto* const tests = new std::map<std::string, Test, std::less<>>{
      {"defined", [](const Value& v, const CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](const Value& v, const CallArgs&) { return v.is_undefined(); }},
      {"none", [](const Value& v, const CallArgs&) { return v.is_none(); }},
      {"string", [](const Value& v, const CallArgs&) { return v.is_string(); }},
      {"number", [](const Value& v, const CallArgs&) { return v.is_number(); }},
      {"integer", [](const Value& v, const CallArgs&) { return v.is_int(); }},
      {"float", [](const Value& v, const CallArgs&) { return v.is_float(); }},
      {"boolean", [](const Value& v, const CallArgs&) { return v.is_bool(); }},
      {"true", [](const Value& v, const CallArgs&) { return v.is_bool() && v.as_bool(); }},
      {"false", [](const Value& v, const CallArgs&) { return v.is_bool() && !v.as_bool(); }},
      {"mapping", [](const Value& v, const CallArgs&) { return v.is_dict(); }},
      {"iterable",
       [](const Value& v, const CallArgs&) {
         return v.is_list() || v.is_string() || v.is_dict() || v.is_undefined();
       }},
      {"sequence",
       [](const Value& v, const CallArgs&) {
         return v.is_list() || v.is_string() || v.is_dict() || v.is_undefined();
       }},
      {"callable", [](const Value& v, const CallArgs&) { return v.is_callable(); }},
      {"lower", [](const Value& v,
                   const CallArgs&) { return v.is_string() && IsAllCase(v.as_string(), true); }},
      {"upper", [](const Value& v,
                   const CallArgs&) { return v.is_string() && IsAllCase(v.as_string(), false); }},
      {"odd",
       [](const Value& v, const CallArgs&) { return Truthy(BinaryOp("%", v, Value(int64_t{2}))); }},
      {"even", [](const Value& v,
                  const CallArgs&) { return !Truthy(BinaryOp("%", v, Value(int64_t{2}))); }},
      {"divisibleby",
       [](const Value& v, const CallArgs& a) {
         if (a.positional.size() != 1) Throw("test 'divisibleby' takes one argument");
         return Truthy(BinaryOp("==", BinaryOp("%", v, a.positional[0]), Value(int64_t{0})));
       }},
      {"in",
       [](const Value& v, const CallArgs& a) {
         if (a.positional.size() != 1) Throw("test 'in' takes one argument");
         return Contains(a.positional[0], v);
       }},
      {"equalto", Compare("==")},
      {"eq", Compare("==")},
      {"==", Compare("==")},
      {"ne", Compare("!=")},
      {"!=", Compare("!=")},
      {"lt", Compare("<")},
      {"<", Compare("<")},
      {"le", Compare("<=")},
      {"<=", Compare("<=")},
      {"gt", Compare(">")},
      {">", Compare(">")},
      {"ge", Compare(">=")},
      {">=", Compare(">=")},
      {"greaterthan", Compare(">")},
      {"lessthan", Compare("<")},
  };
  return *tests;
}

}  // namespace

bool IsFilter(std::string_view name) { return Filters().count(name) > 0; }
bool IsTest(std::string_view name) { return Tests().count(name) > 0; }

Value ApplyFilter(const std::string& name, const Value& subject, const CallArgs& args) {
  const auto it = Filters().find(name);
  if (it == Filters().end()) Throw("unknown filter '", name, "'");
  return it->second(subject, args);
}

bool ApplyTest(const std::string& name, const Value& subject, const CallArgs& args) {
  const auto it = Tests().find(name);
  if (it == Tests().end()) Throw("unknown test '", name, "'");
  return it->second(subject, args);
}

}  // namespace lightvlm::jinja
