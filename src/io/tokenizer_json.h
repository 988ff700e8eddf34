// A node of tokenizer.json together with the file it came from and the path that leads to it, so
// that every error names both: "tokenizer.json: pre_tokenizer.pretokenizers[1].type is missing".
// (JsonFile's dotted paths cannot reach into the arrays that tokenizer.json nests its steps in.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace lightvlm {

class TokenizerJson {
 public:
  // Parses the whole file; fails naming `file` when the text is not JSON.
  static nlohmann::json ParseFile(const std::string& text, const std::string& file);

  TokenizerJson(const nlohmann::json& value, const std::string& file, std::string path)
      : value_(&value), file_(&file), path_(std::move(path)) {}

  const nlohmann::json& value() const { return *value_; }
  const std::string& path() const { return path_; }

  // A member that must be present and not null.
  TokenizerJson operator[](std::string_view key) const;
  // A member, or nullopt when it is absent or null (tokenizer.json writes unset steps as null).
  std::optional<TokenizerJson> Find(std::string_view key) const;
  // Elements of an array member (fails unless this node is an array).
  size_t ArraySize() const;
  TokenizerJson At(size_t index) const;

  std::string String() const;
  bool Bool() const;
  int64_t Int() const;
  std::string StringOr(std::string_view key, std::string fallback) const;
  bool BoolOr(std::string_view key, bool fallback) const;
  int64_t IntOr(std::string_view key, int64_t fallback) const;

  // Fails with "<file>: <path> <what...>".
  template <class... Args>
  [[noreturn]] void Invalid(const Args&... what) const {
    Fail(*file_, ": ", path_, " ", what...);
  }

 private:
  TokenizerJson Child(const nlohmann::json& value, std::string path) const {
    return TokenizerJson(value, *file_, std::move(path));
  }

  const nlohmann::json* value_;
  const std::string* file_;  // owned by whoever parses the file; outlives every node
  std::string path_;
};

}  // namespace lightvlm
