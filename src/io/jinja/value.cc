#include "io/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "io/utf8.h"

namespace lightvlm::jinja {
namespace {

// Python's repr(float): the shortest digits that round-trip, fixed notation for exponents in
// [-4, 16), else d.ddde+XX.
std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof buffer, d, std::chars_format::scientific);
  const std::string scientific(buffer, result.ptr);
  const size_t e = scientific.find('e');
  const bool negative = scientific[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (scientific[i] != '.') digits += scientific[i];
  }
  const int exponent = std::stoi(scientific.substr(e + 1));
  std::string out = negative ? "-" : "";
  // Appends one piece at a time (GCC 12 misreports chains of + on std::string as -Wrestrict).
  if (exponent >= -4 && exponent < 16) {
    const auto point = static_cast<size_t>(exponent + 1);
    if (exponent < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out.append(digits);
    } else if (digits.size() <= point) {
      out.append(digits);
      out.append(point - digits.size(), '0');
      out.append(".0");
    } else {
      out.append(digits, 0, point);
      out.push_back('.');
      out.append(digits, point);
    }
    return out;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1);
  }
  char exponent_text[16];
  std::snprintf(exponent_text, sizeof exponent_text, "e%c%02d", exponent < 0 ? '-' : '+',
                std::abs(exponent));
  return out + exponent_text;
}

std::string StringRepr(const std::string& s) {
  const bool double_quote = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char quote = double_quote ? '"' : '\'';
  std::string out(1, quote);
  for (const unsigned char c : s) {
    if (c == '\\' || c == quote) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + quote;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\u%04x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

void AppendJson(const Value& value, int indent, int depth, std::string& out) {
  const auto newline = [&](int level) {
    if (indent < 0) return;
    out.push_back('\n');
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(level), ' ');
  };
  const char* item_separator = indent >= 0 ? "," : ", ";
  if (value.is_generator()) Throw("Object of type generator is not JSON serializable");
  if (value.is_list()) {
    const List& list = value.as_list();
    if (list.empty()) {
      out += "[]";
      return;
    }
    out += "[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out += item_separator;
      newline(depth + 1);
      AppendJson(list[i], indent, depth + 1, out);
    }
    newline(depth);
    out += "]";
  } else if (value.is_dict()) {
    const Dict& dict = value.as_dict();
    if (dict.empty()) {
      out += "{}";
      return;
    }
    out += "{";
    for (size_t i = 0; i < dict.size(); ++i) {
      if (i) out += item_separator;
      newline(depth + 1);
      out += JsonString(dict[i].first) + ": ";
      AppendJson(dict[i].second, indent, depth + 1, out);
    }
    newline(depth);
    out += "}";
  } else if (value.is_string()) {
    out += JsonString(value.as_string());
  } else if (value.is_none()) {
    out += "null";
  } else if (value.is_bool()) {
    out += value.as_bool() ? "true" : "false";
  } else if (value.is_int()) {
    out += std::to_string(value.as_int());
  } else if (value.is_float()) {
    const double d = value.as_float();
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                           : FloatRepr(d);
  } else {
    Throw("Object of type ", value.type_name(), " is not JSON serializable");
  }
}

template <class Json>
Value ValueFromJson(const Json& json, int depth) {
  if (depth > kMaxValueDepth) Throw("the context nests deeper than ", kMaxValueDepth, " levels");
  switch (json.type()) {
    case Json::value_t::null:
      return Value(None{});
    case Json::value_t::boolean:
      return Value(json.template get<bool>());
    case Json::value_t::number_integer:
      return Value(json.template get<int64_t>());
    case Json::value_t::number_unsigned: {
      const uint64_t u = json.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX))
        Throw("integer ", u, " in the context is too large");
      return Value(static_cast<int64_t>(u));
    }
    case Json::value_t::number_float:
      return Value(json.template get<double>());
    case Json::value_t::string:
      return Value(json.template get<std::string>());
    case Json::value_t::array: {
      List list;
      for (const auto& item : json) list.push_back(ValueFromJson(item, depth + 1));
      return Value(std::move(list));
    }
    case Json::value_t::object: {
      Dict dict;
      for (auto it = json.begin(); it != json.end(); ++it) {
        dict.emplace_back(it.key(), ValueFromJson(it.value(), depth + 1));
      }
      return Value(std::move(dict));
    }
    default:
      Throw("the context holds a JSON value of unsupported type ", json.type_name());
  }
}

}  // namespace

void CheckStringSize(size_t bytes) {
  if (bytes > kMaxStringBytes) {
    Throw("a string of ", bytes, " bytes exceeds the limit of ", kMaxStringBytes, " bytes");
  }
}

void CheckListSize(size_t items) {
  if (items > kMaxListItems)
    Throw("a list of ", items, " items exceeds the limit of ", kMaxListItems);
}

Value::Value(List l) {
  for (const Value& item : l) depth_ = std::max(depth_, item.depth_ + 1);
  if (depth_ > kMaxValueDepth)
    Throw("lists and dicts nest deeper than ", kMaxValueDepth, " levels");
  storage_ = std::make_shared<const List>(std::move(l));
}

Value::Value(Dict d) {
  for (const auto& item : d) depth_ = std::max(depth_, item.second.depth_ + 1);
  if (depth_ > kMaxValueDepth)
    Throw("lists and dicts nest deeper than ", kMaxValueDepth, " levels");
  storage_ = std::make_shared<const Dict>(std::move(d));
}

int64_t Value::as_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  return std::get<int64_t>(storage_);
}

double Value::as_float() const {
  if (is_float()) return std::get<double>(storage_);
  return static_cast<double>(as_int());
}

std::string Value::type_name() const {
  if (is_undefined()) return "undefined";
  if (is_none()) return "NoneType";
  if (is_bool()) return "bool";
  if (is_int()) return "int";
  if (is_float()) return "float";
  if (is_string()) return "str";
  if (is_list()) return is_generator() ? "generator" : is_tuple() ? "tuple" : "list";
  if (is_dict()) return "dict";
  if (is_namespace()) return "Namespace";
  return "function";
}

bool Truthy(const Value& value) {
  if (value.is_generator()) return true;
  if (value.is_undefined() || value.is_none()) return false;
  if (value.is_bool()) return value.as_bool();
  if (value.is_int()) return value.as_int() != 0;
  if (value.is_float()) return value.as_float() != 0.0;
  if (value.is_string()) return !value.as_string().empty();
  if (value.is_list()) return !value.as_list().empty();
  if (value.is_dict()) return !value.as_dict().empty();
  return true;
}

bool Equal(const Value& a, const Value& b) {
  if (a.is_generator() || b.is_generator()) return false;  // distinct objects in Python
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_list() && b.is_list()) {
    const List &x = a.as_list(), &y = b.as_list();
    if (x.size() != y.size() || a.is_tuple() != b.is_tuple()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!Equal(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    const Dict &x = a.as_dict(), &y = b.as_dict();
    if (x.size() != y.size()) return false;
    for (const auto& [key, value] : x) {
      bool found = false;
      for (const auto& [other_key, other_value] : y) {
        if (other_key == key) {
          found = Equal(value, other_value);
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return &a.as_namespace() == &b.as_namespace();
  return false;
}

bool Less(const Value& a, const Value& b) {
  if (a.is_generator() || b.is_generator()) Throw("'<' not supported for generators");
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  // UTF-8 byte order is code-point order.
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.is_list() && b.is_list()) {
    const List &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!Equal(x[i], y[i])) return Less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  Throw("'<' not supported between instances of '", a.type_name(), "' and '", b.type_name(), "'");
}

std::string ToStr(const Value& value) {
  if (value.is_undefined()) return "";
  if (value.is_string()) return value.as_string();
  return Repr(value);
}

std::string Repr(const Value& value) {
  if (value.is_undefined()) return "Undefined";
  if (value.is_none()) return "None";
  if (value.is_bool()) return value.as_bool() ? "True" : "False";
  if (value.is_int()) return std::to_string(value.as_int());
  if (value.is_float()) return FloatRepr(value.as_float());
  if (value.is_string()) return StringRepr(value.as_string());
  if (value.is_generator()) {
    Throw(
        "the text of a generator (what select, reject and map return) is not defined: add | list");
  }
  if (value.is_list()) {
    std::string out = value.is_tuple() ? "(" : "[";
    for (size_t i = 0; i < value.as_list().size(); ++i) {
      if (i) out += ", ";
      out += Repr(value.as_list()[i]);
    }
    if (value.is_tuple()) return out + (value.as_list().size() == 1 ? ",)" : ")");
    return out + "]";
  }
  if (value.is_dict()) {
    std::string out = "{";
    for (size_t i = 0; i < value.as_dict().size(); ++i) {
      if (i) out += ", ";
      out += StringRepr(value.as_dict()[i].first) + ": " + Repr(value.as_dict()[i].second);
    }
    return out + "}";
  }
  if (value.is_namespace()) return "<Namespace>";
  return "<function " + value.as_callable().name + ">";
}

std::string ToJson(const Value& value, int indent) {
  std::string out;
  AppendJson(value, indent, 0, out);
  return out;
}

Value FromJson(const nlohmann::ordered_json& json) { return ValueFromJson(json, 0); }
Value FromJson(const nlohmann::json& json) { return ValueFromJson(json, 0); }

std::vector<std::string_view> CodePoints(std::string_view text) {
  std::vector<std::string_view> points;
  ForEachUtf8Char(text, [&](std::string_view point) { points.push_back(point); });
  return points;
}

}  // namespace lightvlm::jinja
