// What Jinja expressions do to values, with Python's semantics: attribute and item lookup (and
// the str and dict methods chat templates call), slicing, arithmetic, membership.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/jinja/value.h"

namespace lightvlm::jinja {

// obj.name: a dict's key (or its items/keys/values/get method), a namespace attribute, a str
// method; Undefined when absent. Fails on an undefined object, as jinja2 does.
Value GetAttribute(const Value& object, const std::string& name);
// obj[key]: list and str indices (negative from the end), dict keys; Undefined when absent.
Value GetItem(const Value& object, const Value& key);
// obj[start:stop:step] of a list or str; absent bounds are nullopt.
Value Slice(const Value& object, const std::optional<Value>& start,
            const std::optional<Value>& stop, const std::optional<Value>& step);
// + - * / // % ** ~ and the comparisons == != < <= > >=.
Value BinaryOp(const std::string& op, const Value& left, const Value& right);
// Python's str.replace(old, new, count) (count < 0: all); an empty `old` inserts `replacement`
// around every code point.
std::string ReplaceAll(const std::string& s, const std::string& old, const std::string& replacement,
                       int64_t count);
// `needle in haystack`.
bool Contains(const Value& haystack, const Value& needle);
// The items a loop or filter walks: a list, a string's code points, a dict's keys; nothing for
// undefined. Fails naming `what` (the loop or filter) on anything else.
List ItemsOf(const Value& value, const char* what);

}  // namespace lightvlm::jinja
