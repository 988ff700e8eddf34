#include "io/tokenizer_json.h"

#include "io/json_file.h"

namespace lightvlm {

nlohmann::json TokenizerJson::ParseFile(const std::string& text, const std::string& file) {
  nlohmann::json root = ParseJson(text, file);
  Check(root.is_object(), file, ": the top level must be a JSON object");
  return root;
}

TokenizerJson TokenizerJson::operator[](std::string_view key) const {
  std::optional<TokenizerJson> member = Find(key);
  if (!member) Child(*value_, StrCat(path_.empty() ? "" : path_ + ".", key)).Invalid("is missing");
  return *member;
}

std::optional<TokenizerJson> TokenizerJson::Find(std::string_view key) const {
  if (!value_->is_object()) Invalid("must be a JSON object");
  const auto it = value_->find(key);
  if (it == value_->end() || it->is_null()) return std::nullopt;
  return Child(*it, StrCat(path_.empty() ? "" : path_ + ".", key));
}

size_t TokenizerJson::ArraySize() const {
  if (!value_->is_array()) Invalid("must be an array");
  return value_->size();
}

TokenizerJson TokenizerJson::At(size_t index) const {
  if (index >= ArraySize()) Invalid("has no element ", index);
  return Child((*value_)[index], StrCat(path_, "[", index, "]"));
}

std::string TokenizerJson::String() const {
  if (!value_->is_string()) Invalid("must be a string");
  return value_->get<std::string>();
}

bool TokenizerJson::Bool() const {
  if (!value_->is_boolean()) Invalid("must be true or false");
  return value_->get<bool>();
}

int64_t TokenizerJson::Int() const {
  if (!value_->is_number_integer()) Invalid("must be an integer");
  return value_->get<int64_t>();
}

std::string TokenizerJson::StringOr(std::string_view key, std::string fallback) const {
  const std::optional<TokenizerJson> member = Find(key);
  return member ? member->String() : std::move(fallback);
}

bool TokenizerJson::BoolOr(std::string_view key, bool fallback) const {
  const std::optional<TokenizerJson> member = Find(key);
  return member ? member->Bool() : fallback;
}

int64_t TokenizerJson::IntOr(std::string_view key, int64_t fallback) const {
  const std::optional<TokenizerJson> member = Find(key);
  return member ? member->Int() : fallback;
}

}  // namespace lightvlm
