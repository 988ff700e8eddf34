#include "io/json_file.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/error.h"
#include "io/mapped_file.h"

namespace lightvlm {
namespace {

using nlohmann::json;

// How a node's type is named in errors: integers and floats apart, since asking for an
// integer and finding 3.5 is the usual mistake.
std::string_view KindOf(const json& node) {
  switch (node.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "float";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

// The file and field a conversion is for, so that its errors can name them.
struct FieldRef {
  const std::string& file;
  std::string field;

  void Expect(bool ok, const json& node, std::string_view expected) const {
    Check(ok, file, ": field '", field, "' should be ", expected, ", got ", KindOf(node));
  }
};

template <class T>
T Convert(const json& node, const FieldRef& at);

template <class Int>
Int ToInteger(const json& node, const FieldRef& at) {
  // Only JSON integers: a float such as 3.5 (or even 64.0) asked for as an integer is an error.
  at.Expect(node.is_number_integer(), node, "an integer");
  const bool fits = node.is_number_unsigned() ? std::in_range<Int>(node.get<uint64_t>())
                                              : std::in_range<Int>(node.get<int64_t>());
  Check(fits, at.file, ": field '", at.field, "' = ", node.dump(), " is out of range for a ",
        8 * sizeof(Int), "-bit integer");
  return node.get<Int>();
}

template <class Element>
std::vector<Element> ToVector(const json& node, const FieldRef& at) {
  at.Expect(node.is_array(), node, "an array");
  std::vector<Element> values;
  values.reserve(node.size());
  for (size_t i = 0; i < node.size(); ++i) {
    values.push_back(Convert<Element>(node[i], {at.file, StrCat(at.field, "[", i, "]")}));
  }
  return values;
}

template <class T>
T Convert(const json& node, const FieldRef& at) {
  if constexpr (std::is_same_v<T, json>) {
    return node;
  } else if constexpr (std::is_same_v<T, bool>) {
    at.Expect(node.is_boolean(), node, "a boolean");
    return node.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    return ToInteger<T>(node, at);
  } else if constexpr (std::is_floating_point_v<T>) {
    at.Expect(node.is_number(), node, "a number");
    return node.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    at.Expect(node.is_string(), node, "a string");
    return node.get<std::string>();
  } else {
    return ToVector<typename T::value_type>(node, at);
  }
}

}  // namespace

nlohmann::json ParseJson(std::string_view text, const std::string& name) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& error) {
    // Not only syntax errors: a number out of range ("1e400") is an out_of_range exception.
    Fail(name, ": not valid JSON: ", error.what());
  }
}

JsonFile JsonFile::Load(const std::string& path) { return Parse(ReadFileText(path), path); }

JsonFile JsonFile::Parse(const std::string& text, const std::string& name) {
  JsonFile file;
  file.path_ = name;
  file.root_ = ParseJson(text, name);
  return file;
}

const nlohmann::json* JsonFile::Node(const std::string& field) const {
  const json* node = &root_;
  size_t start = 0;
  while (true) {
    const size_t dot = field.find('.', start);
    // A null parent (HF configs write "rope_scaling": null) means its children are absent too.
    if (node->is_null()) return nullptr;
    if (!node->is_object()) {
      if (start == 0) Fail(path_, ": the top level should be an object, got ", KindOf(*node));
      Fail(path_, ": field '", field.substr(0, start - 1), "' should be an object, got ",
           KindOf(*node));
    }
    const auto child = node->find(field.substr(start, dot - start));
    if (child == node->end()) return nullptr;
    node = &*child;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

template <class T>
T JsonFile::Get(const std::string& field) const {
  const json* node = Node(field);
  Check(node != nullptr, path_, ": missing field '", field, "'");
  return Convert<T>(*node, {path_, field});
}

template <class T>
std::optional<T> JsonFile::Find(const std::string& field) const {
  const json* node = Node(field);
  if (node == nullptr || node->is_null()) return std::nullopt;
  return Convert<T>(*node, {path_, field});
}

#define LIGHTVLM_JSON_FILE_TYPE(T)                       \
  template T JsonFile::Get<T>(const std::string&) const; \
  template std::optional<T> JsonFile::Find<T>(const std::string&) const;

LIGHTVLM_JSON_FILE_TYPE(bool)
LIGHTVLM_JSON_FILE_TYPE(int32_t)
LIGHTVLM_JSON_FILE_TYPE(int64_t)
LIGHTVLM_JSON_FILE_TYPE(uint64_t)
LIGHTVLM_JSON_FILE_TYPE(float)
LIGHTVLM_JSON_FILE_TYPE(double)
LIGHTVLM_JSON_FILE_TYPE(std::string)
LIGHTVLM_JSON_FILE_TYPE(std::vector<int32_t>)
LIGHTVLM_JSON_FILE_TYPE(std::vector<int64_t>)
LIGHTVLM_JSON_FILE_TYPE(std::vector<float>)
LIGHTVLM_JSON_FILE_TYPE(std::vector<double>)
LIGHTVLM_JSON_FILE_TYPE(std::vector<std::string>)
LIGHTVLM_JSON_FILE_TYPE(nlohmann::json)

#undef LIGHTVLM_JSON_FILE_TYPE

void ForEachJsonLine(
    std::istream& in, const std::string& path, const std::string& what,
    const std::function<void(const JsonFile& line, int64_t line_number)>& parse_line,
    const std::function<void(int64_t line_number, const Error& error)>& on_bad_line) {
  bool any = false;
  std::string line;
  for (int64_t line_number = 1; std::getline(in, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    any = true;
    try {
      const JsonFile json = JsonFile::Parse(line, StrCat(path, ", line ", line_number));
      Check(json.root().is_object(), json.path(), ": expected a JSON object, got ",
            json.root().type_name());
      parse_line(json, line_number);
    } catch (const Error& error) {
      if (!on_bad_line) throw;
      on_bad_line(line_number, error);
    }
  }
  Check(!in.bad(), path, ": read error");
  Check(any, path, ": ", what);
}

void ForEachJsonLine(
    const std::string& path, const std::string& what,
    const std::function<void(const JsonFile& line, int64_t line_number)>& parse_line,
    const std::function<void(int64_t line_number, const Error& error)>& on_bad_line) {
  // A FIFO is fine here (data piped in); a directory would read as an empty file.
  Check(!std::filesystem::is_directory(path), path, ": is a directory, not a file");
  std::ifstream in(path);
  Check(in.good(), path, ": cannot open the file");
  ForEachJsonLine(in, path, what, parse_line, on_bad_line);
}

}  // namespace lightvlm
