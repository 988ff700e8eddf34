// JSON files of a Hugging Face checkpoint (config.json, tokenizer_config.json, ...), with typed
// access whose errors name the file and the field.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace lightvlm {

// Parses `text`; every failure (bad syntax, or a number out of range such as 1e400) is an Error
// naming `name`. Every JSON text the engine reads is parsed here.
nlohmann::json ParseJson(std::string_view text, const std::string& name);

class JsonFile {
 public:
  // Fails naming the file when it cannot be read or is not JSON.
  static JsonFile Load(const std::string& path);
  static JsonFile Parse(const std::string& text, const std::string& name);

  const std::string& path() const { return path_; }
  const nlohmann::json& root() const { return root_; }

  // Fields are named by a dotted path ("text_config.hidden_size"). Get fails naming the file and
  // field when it is missing or of the wrong type; Find returns nullopt when it is missing or null
  // (as HF configs write "rope_scaling": null for "none") and fails when it has the wrong type.
  // T is bool, int32_t, int64_t, uint64_t, float, double, std::string, a std::vector of one of
  // int32_t, int64_t, float, double, std::string, or nlohmann::json. Integer types accept only
  // JSON integers in range; float types accept any JSON number.
  template <class T>
  T Get(const std::string& field) const;
  template <class T>
  std::optional<T> Find(const std::string& field) const;
  template <class T>
  T GetOr(const std::string& field, T fallback) const {
    return Find<T>(field).value_or(std::move(fallback));
  }
  // The raw node at a dotted path, or nullptr when it or a parent is absent or a parent is null;
  // fails when a parent is some other non-object.
  const nlohmann::json* Node(const std::string& field) const;

 private:
  std::string path_;
  nlohmann::json root_;
};

// Calls `parse_line` with each non-blank line of the JSON Lines file at `path`, parsed, as a
// JsonFile named "<path>, line <n>" (so its errors name the line), and n. Fails naming the file
// when it cannot be read, and when it has no lines that are not blank and `what` (e.g. "no
// items"). A line that is not a JSON object, or whose `parse_line` throws an Error, fails the
// whole walk; with `on_bad_line`, it is passed there instead (with its line number and the
// error, which names the line) and the walk goes on.
void ForEachJsonLine(
    const std::string& path, const std::string& what,
    const std::function<void(const JsonFile& line, int64_t line_number)>& parse_line,
    const std::function<void(int64_t line_number, const Error& error)>& on_bad_line = {});
// The same for JSON Lines read from `in`; `path` is only for errors.
void ForEachJsonLine(
    std::istream& in, const std::string& path, const std::string& what,
    const std::function<void(const JsonFile& line, int64_t line_number)>& parse_line,
    const std::function<void(int64_t line_number, const Error& error)>& on_bad_line = {});

}  // namespace lightvlm
