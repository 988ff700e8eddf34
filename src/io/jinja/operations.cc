#include "io/jinja/operations.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "io/jinja/text.h"
#include "io/utf8.h"

namespace lightvlm::jinja {
namespace {

int64_t ToIndex(const Value& value, const char* what) {
  if (!value.is_int() && !value.is_bool())
    Throw(what, " must be an integer, not ", value.type_name());
  return value.as_int();
}

const Value& Arg(const CallArgs& args, size_t index, const char* method) {
  if (index >= args.positional.size()) Throw(method, "() is missing argument ", index + 1);
  return args.positional[index];
}

const std::string& StringArg(const CallArgs& args, size_t index, const char* method) {
  const Value& value = Arg(args, index, method);
  if (!value.is_string())
    Throw(method, "() argument ", index + 1, " must be str, not ", value.type_name());
  return value.as_string();
}

void CheckArgCount(const CallArgs& args, size_t most, const char* method) {
  if (args.positional.size() > most || !args.keyword.empty()) {
    Throw(method, "() takes at most ", most, " positional arguments and no keyword arguments here");
  }
}

// str.strip/lstrip/rstrip: whitespace, or the characters of `chars`.
std::string Strip(const std::string& s, const CallArgs& args, bool left, bool right,
                  const char* method) {
  CheckArgCount(args, 1, method);
  if (args.positional.empty() || args.positional[0].is_none())
    return StripWhitespace(s, left, right);
  const auto strip = CodePoints(StringArg(args, 0, method));
  const auto points = CodePoints(s);
  const auto stripped = [&](std::string_view point) {
    return std::find(strip.begin(), strip.end(), point) != strip.end();
  };
  size_t begin = 0, end = points.size();
  while (left && begin < end && stripped(points[begin])) ++begin;
  while (right && end > begin && stripped(points[end - 1])) --end;
  std::string out;
  for (size_t i = begin; i < end; ++i) out += points[i];
  return out;
}

// Python's str.split(sep=None, maxsplit=-1).
List Split(const std::string& s, const CallArgs& args) {
  if (!args.keyword.empty()) Throw("split() keyword arguments are not supported");
  const bool by_space = args.positional.empty() || args.positional[0].is_none();
  const int64_t max_split = args.positional.size() > 1 ? Arg(args, 1, "split").as_int() : -1;
  List parts;
  if (by_space) {
    const auto points = CodePoints(s);
    const auto space = [&](size_t i) {
      return IsPyWhitespace(DecodeUtf8Step(points[i], 0).code_point);
    };
    size_t i = 0;
    while (true) {
      while (i < points.size() && space(i)) ++i;
      if (i == points.size()) break;
      size_t j = i;
      const bool last = max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split;
      if (last) {
        j = points.size();
        while (j > i && space(j - 1)) --j;
      } else {
        while (j < points.size() && !space(j)) ++j;
      }
      std::string part;
      for (size_t k = i; k < j; ++k) part += points[k];
      parts.emplace_back(std::move(part));
      if (last) break;
      i = j;
    }
    return parts;
  }
  const std::string& separator = StringArg(args, 0, "split");
  if (separator.empty()) Throw("split(): empty separator");
  size_t start = 0;
  while (true) {
    const size_t found = s.find(separator, start);
    if (found == std::string::npos ||
        (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split)) {
      parts.emplace_back(s.substr(start));
      return parts;
    }
    parts.emplace_back(s.substr(start, found - start));
    start = found + separator.size();
  }
}

bool AffixMatches(const std::string& s, const Value& affix, bool prefix, const char* method) {
  if (affix.is_list()) {
    return std::any_of(affix.as_list().begin(), affix.as_list().end(),
                       [&](const Value& one) { return AffixMatches(s, one, prefix, method); });
  }
  if (!affix.is_string()) Throw(method, "() argument must be str or a tuple of str");
  return prefix ? s.starts_with(affix.as_string()) : s.ends_with(affix.as_string());
}

// The methods of str that chat templates call, bound to `s`.
std::optional<Value> StringMethod(const std::string& s, const std::string& name) {
  using Fn = std::function<Value(const CallArgs&)>;
  Fn fn;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip", right = name != "lstrip";
    fn = [s, left, right, name](const CallArgs& a) {
      return Value(Strip(s, a, left, right, name.c_str()));
    };
  } else if (name == "upper" || name == "lower") {
    const bool upper = name == "upper";
    fn = [s, upper](const CallArgs& a) {
      CheckArgCount(a, 0, upper ? "upper" : "lower");
      return Value(upper ? Upper(s) : Lower(s));
    };
  } else if (name == "capitalize") {
    fn = [s](const CallArgs& a) {
      CheckArgCount(a, 0, "capitalize");
      return Value(Capitalize(s));
    };
  } else if (name == "title") {
    fn = [s](const CallArgs& a) {
      CheckArgCount(a, 0, "title");
      return Value(Title(s));
    };
  } else if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    fn = [s, prefix](const CallArgs& a) {
      const char* method = prefix ? "startswith" : "endswith";
      CheckArgCount(a, 1, method);
      return Value(AffixMatches(s, Arg(a, 0, method), prefix, method));
    };
  } else if (name == "split") {
    fn = [s](const CallArgs& a) { return Value(Split(s, a)); };
  } else if (name == "replace") {
    fn = [s](const CallArgs& a) {
      CheckArgCount(a, 3, "replace");
      const int64_t count =
          a.positional.size() > 2 ? ToIndex(a.positional[2], "replace count") : -1;
      return Value(ReplaceAll(s, StringArg(a, 0, "replace"), StringArg(a, 1, "replace"), count));
    };
  } else {
    return std::nullopt;
  }
  return Value(Callable{"str." + name, std::move(fn)});
}

std::optional<Value> DictMethod(const Value& dict, const std::string& name) {
  std::function<Value(const CallArgs&)> fn;
  if (name == "items" || name == "keys" || name == "values") {
    fn = [dict, name](const CallArgs& a) {
      CheckArgCount(a, 0, name.c_str());
      List out;
      for (const auto& [key, value] : dict.as_dict()) {
        if (name == "items") out.push_back(Value::Tuple({Value(key), value}));
        if (name == "keys") out.emplace_back(key);
        if (name == "values") out.push_back(value);
      }
      return Value(std::move(out));
    };
  } else if (name == "get") {
    fn = [dict](const CallArgs& a) {
      CheckArgCount(a, 2, "get");
      const Value& key = Arg(a, 0, "get");
      if (key.is_string()) {
        for (const auto& [k, v] : dict.as_dict()) {
          if (k == key.as_string()) return v;
        }
      }
      return a.positional.size() > 1 ? a.positional[1] : Value(None{});
    };
  } else {
    return std::nullopt;
  }
  return Value(Callable{"dict." + name, std::move(fn)});
}

Value Arithmetic(const std::string& op, const Value& a, const Value& b) {
  const bool ints = !a.is_float() && !b.is_float();
  if (op == "/") {
    if (b.as_float() == 0) Throw("division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (b.as_float() == 0)
      Throw(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (ints) {
      const int64_t x = a.as_int(), y = b.as_int();
      if (x == INT64_MIN && y == -1) Throw("integer overflow");
      int64_t quotient = x / y, remainder = x % y;
      if (remainder != 0 && ((remainder < 0) != (y < 0))) {
        --quotient;
        remainder += y;
      }
      return op == "//" ? Value(quotient) : Value(remainder);
    }
    const double x = a.as_float(), y = b.as_float();
    double remainder = std::fmod(x, y);
    if (remainder != 0 && (remainder < 0) != (y < 0)) remainder += y;
    return op == "//" ? Value(std::floor(x / y)) : Value(remainder);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t result = 1;
      for (int64_t i = 0; i < b.as_int(); ++i) {
        if (__builtin_mul_overflow(result, a.as_int(), &result)) Throw("integer overflow in **");
        if (result == 0 || result == 1) break;
      }
      return Value(result);
    }
    return Value(std::pow(a.as_float(), b.as_float()));
  }
  if (ints) {
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    const bool overflow = op == "+"   ? __builtin_add_overflow(x, y, &r)
                          : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                      : __builtin_mul_overflow(x, y, &r);
    if (overflow) Throw("integer overflow in ", op);
    return Value(r);
  }
  const double x = a.as_float(), y = b.as_float();
  return Value(op == "+" ? x + y : op == "-" ? x - y : x * y);
}

template <class T>
Value Repeat(const T& item, int64_t times, size_t unit) {
  constexpr bool kString = std::is_same_v<T, std::string>;
  const size_t limit = kString ? kMaxStringBytes : kMaxListItems;
  T out;
  if (times <= 0) return Value(out);
  if (unit > 0 && static_cast<uint64_t>(times) > limit / unit) {
    if constexpr (kString)
      CheckStringSize(limit + 1);
    else
      CheckListSize(limit + 1);
  }
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), item.begin(), item.end());
  if constexpr (std::is_same_v<T, std::string>)
    CheckStringSize(out.size());
  else
    CheckListSize(out.size());
  return Value(std::move(out));
}

}  // namespace

Value GetAttribute(const Value& object, const std::string& name) {
  if (object.is_undefined())
    Throw("'", object.undefined_name(), "' is undefined (reading .", name, ")");
  if (object.is_dict()) {
    if (auto method = DictMethod(object, name)) return *method;
    for (const auto& [key, value] : object.as_dict()) {
      if (key == name) return value;
    }
  } else if (object.is_namespace()) {
    for (const auto& [key, value] : object.as_namespace().attributes) {
      if (key == name) return value;
    }
  } else if (object.is_string()) {
    if (auto method = StringMethod(object.as_string(), name)) return *method;
  }
  return Value::MakeUndefined(name);
}

Value GetItem(const Value& object, const Value& key) {
  if (object.is_generator()) return Value::MakeUndefined(Repr(key));  // not subscriptable
  if (object.is_undefined())
    Throw("'", object.undefined_name(), "' is undefined (reading [", Repr(key), "])");
  if (object.is_dict() && key.is_string()) {
    for (const auto& [k, v] : object.as_dict()) {
      if (k == key.as_string()) return v;
    }
  } else if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t index = key.as_int();
    if (object.is_list()) {
      const auto size = static_cast<int64_t>(object.as_list().size());
      if (index < 0) index += size;
      if (index >= 0 && index < size) return object.as_list()[static_cast<size_t>(index)];
    } else {
      const auto points = CodePoints(object.as_string());
      const auto size = static_cast<int64_t>(points.size());
      if (index < 0) index += size;
      if (index >= 0 && index < size) return Value(std::string(points[static_cast<size_t>(index)]));
    }
    return Value::MakeUndefined(Repr(key));
  }
  // jinja2 falls back to the attribute of that name.
  if (key.is_string()) return GetAttribute(object, key.as_string());
  return Value::MakeUndefined(Repr(key));
}

Value Slice(const Value& object, const std::optional<Value>& start,
            const std::optional<Value>& stop, const std::optional<Value>& step) {
  // jinja2 slices with Python's obj[a:b] directly, which fails on anything else.
  if (object.is_generator() || (!object.is_list() && !object.is_string())) {
    Throw("'", object.is_undefined() ? object.undefined_name() : object.type_name(),
          "' cannot be sliced");
  }
  const auto given = [](const std::optional<Value>& v) { return v && !v->is_none(); };
  const int64_t stride = given(step) ? ToIndex(*step, "slice step") : 1;
  if (stride == 0) Throw("slice step cannot be zero");
  std::vector<std::string_view> points;
  if (object.is_string()) points = CodePoints(object.as_string());
  const int64_t size =
      static_cast<int64_t>(object.is_list() ? object.as_list().size() : points.size());
  // Python's slice.indices().
  const auto bound = [&](const std::optional<Value>& v, int64_t fallback) {
    if (!given(v)) return fallback;
    int64_t i = ToIndex(*v, "slice index");
    if (i < 0) i = std::max(i + size, stride < 0 ? int64_t{-1} : int64_t{0});
    return std::min(i, stride < 0 ? size - 1 : size);
  };
  const int64_t first = bound(start, stride < 0 ? size - 1 : 0);
  const int64_t last = bound(stop, stride < 0 ? -1 : size);
  List items;
  std::string text;
  for (int64_t i = first; stride > 0 ? i < last : i > last; i += stride) {
    if (object.is_list()) {
      items.push_back(object.as_list()[static_cast<size_t>(i)]);
    } else {
      text += points[static_cast<size_t>(i)];
    }
  }
  if (object.is_tuple()) return Value::Tuple(std::move(items));
  return object.is_list() ? Value(std::move(items)) : Value(std::move(text));
}

bool Contains(const Value& haystack, const Value& needle) {
  if (haystack.is_string()) {
    if (!needle.is_string())
      Throw("'in <string>' requires string as left operand, not ", needle.type_name());
    return haystack.as_string().find(needle.as_string()) != std::string::npos;
  }
  if (haystack.is_list()) {
    return std::any_of(haystack.as_list().begin(), haystack.as_list().end(),
                       [&](const Value& item) { return Equal(item, needle); });
  }
  if (haystack.is_dict()) {
    if ((needle.is_list() && !needle.is_tuple()) || needle.is_dict() || needle.is_namespace()) {
      Throw("unhashable type: '", needle.type_name(), "'");
    }
    if (!needle.is_string()) return false;
    return std::any_of(haystack.as_dict().begin(), haystack.as_dict().end(),
                       [&](const auto& item) { return item.first == needle.as_string(); });
  }
  if (haystack.is_undefined()) return false;
  Throw("argument of type '", haystack.type_name(), "' is not iterable");
}

Value BinaryOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return Value(Equal(a, b));
  if (op == "!=") return Value(!Equal(a, b));
  if (op == "<") return Value(Less(a, b));
  if (op == ">") return Value(Less(b, a));
  if (op == "<=") return Value(Less(a, b) || Equal(a, b));
  if (op == ">=") return Value(Less(b, a) || Equal(a, b));
  if (op == "~") {
    std::string out = ToStr(a);
    const std::string right = ToStr(b);
    CheckStringSize(out.size() + right.size());
    return Value(out + right);
  }
  if (a.is_number() && b.is_number()) return Arithmetic(op, a, b);
  if (a.is_generator() || b.is_generator()) {
    Throw("unsupported operand type(s) for ", op, ": '", a.type_name(), "' and '", b.type_name(),
          "'");
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    CheckStringSize(a.as_string().size() + b.as_string().size());
    return Value(a.as_string() + b.as_string());
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    CheckListSize(a.as_list().size() + b.as_list().size());
    List out = a.as_list();
    out.insert(out.end(), b.as_list().begin(), b.as_list().end());
    return Value(std::move(out));
  }
  if (op == "*" && (a.is_string() || a.is_list()) && (b.is_int() || b.is_bool()))
    return BinaryOp(op, b, a);
  if (op == "*" && (a.is_int() || a.is_bool())) {
    if (b.is_string()) return Repeat(b.as_string(), a.as_int(), b.as_string().size());
    if (b.is_list()) return Repeat(b.as_list(), a.as_int(), b.as_list().size());
  }
  if (op == "%" && a.is_string())
    Throw("printf-style string formatting ('...' % x) is not supported");
  if (a.is_undefined() || b.is_undefined()) {
    Throw("'", (a.is_undefined() ? a : b).undefined_name(), "' is undefined (operand of ", op, ")");
  }
  Throw("unsupported operand type(s) for ", op, ": '", a.type_name(), "' and '", b.type_name(),
        "'");
}

// Python's str.replace(old, new, count): an empty `old` inserts between every code point.
std::string ReplaceAll(const std::string& s, const std::string& old, const std::string& replacement,
                       int64_t count) {
  std::string out;
  int64_t done = 0;
  const auto room = [&] { return count < 0 || done < count; };
  if (old.empty()) {
    for (const std::string_view point : CodePoints(s)) {
      if (room()) {
        out += replacement;
        ++done;
      }
      out += point;
      CheckStringSize(out.size());
    }
    if (room()) out += replacement;
    return out;
  }
  size_t start = 0;
  while (room()) {
    const size_t found = s.find(old, start);
    if (found == std::string::npos) break;
    out.append(s, start, found - start);
    out += replacement;
    CheckStringSize(out.size());
    start = found + old.size();
    ++done;
  }
  out.append(s, start);
  CheckStringSize(out.size());
  return out;
}

List ItemsOf(const Value& value, const char* what) {
  if (value.is_list()) return value.as_list();
  if (value.is_undefined()) return {};
  List items;
  if (value.is_string()) {
    for (const std::string_view point : CodePoints(value.as_string()))
      items.emplace_back(std::string(point));
  } else if (value.is_dict()) {
    for (const auto& item : value.as_dict()) items.emplace_back(item.first);
  } else {
    Throw(what, ": '", value.type_name(), "' object is not iterable");
  }
  return items;
}

}  // namespace lightvlm::jinja
