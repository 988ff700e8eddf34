#include "io/tokenizer_config.h"

#include <filesystem>
#include <map>
#include <unordered_set>

#include "base/error.h"
#include "base/parse_integer.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSpecialTokenFields[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                               "pad_token", "cls_token", "mask_token"};

// A special token is written as its content or as an AddedToken object {"content": ...}.
std::string TokenContent(const json& node, const std::string& file, const std::string& field) {
  if (node.is_string()) return node.get<std::string>();
  const auto content = node.is_object() ? node.find("content") : node.end();
  Check(node.is_object() && content != node.end() && content->is_string(), file, ": ", field,
        " must be a string or an object with a string \"content\"");
  return content->get<std::string>();
}

// The special tokens each field names, by field; a file read later replaces a field's token (as
// special_tokens_map.json does tokenizer_config.json's) and adds to additional_special_tokens.
using SpecialTokenFields = std::map<std::string, std::vector<SlowTokenizerConfig::NamedToken>>;

void ReadSpecialTokenFields(const JsonFile& file, SpecialTokenFields& fields) {
  for (const char* field : kSpecialTokenFields) {
    const json* node = file.Node(field);
    if (!node || node->is_null()) continue;
    fields[field] = {{TokenContent(*node, file.path(), field), StrCat(file.path(), ": ", field)}};
  }
  if (const json* list = file.Node("additional_special_tokens"); list && !list->is_null()) {
    Check(list->is_array(), file.path(), ": additional_special_tokens must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string field = StrCat("additional_special_tokens[", i, "]");
      fields["additional_special_tokens"].push_back(
          {TokenContent((*list)[i], file.path(), field), StrCat(file.path(), ": ", field)});
    }
  }
}

void SetSpecialTokens(const SpecialTokenFields& fields, SlowTokenizerConfig& config) {
  for (const auto& [field, tokens] : fields) {
    if (field == "bos_token") config.bos_token = tokens.front().content;
    if (field == "eos_token") config.eos_token = tokens.front().content;
    config.special_tokens.insert(config.special_tokens.end(), tokens.begin(), tokens.end());
  }
}

// tokenizer_config.json's {"<id>": {"content": ..., "special": ...}} as an array with ids.
void ReadAddedTokensDecoder(const JsonFile& file, const json& decoder,
                            SlowTokenizerConfig& config) {
  Check(decoder.is_object(), file.path(), ": added_tokens_decoder must be an object of id: token");
  for (const auto& [key, token] : decoder.items()) {
    const int64_t id = ParseInteger(key).value_or(-1);
    Check(id >= 0, file.path(), ": added_tokens_decoder key \"", key, "\" is not a token id");
    Check(token.is_object(), file.path(), ": added_tokens_decoder.", key, " must be an object");
    json entry = token;
    entry["id"] = id;
    config.added_tokens.push_back(std::move(entry));
  }
  config.added_tokens_source = file.path() + " (added_tokens_decoder)";
}

// added_tokens.json's {"content": id}.
void ReadAddedTokensFile(const JsonFile& file, SlowTokenizerConfig& config) {
  Check(file.root().is_object(), file.path(), ": must be a JSON object of token: id");
  for (const auto& [content, id] : file.root().items()) {
    Check(id.is_number_integer(), file.path(), ": \"", content, "\" must have an integer id");
    config.added_tokens.push_back({{"id", id}, {"content", content}});
  }
  config.added_tokens_source = file.path();
}

}  // namespace

SlowTokenizerConfig ReadSlowTokenizerConfig(const std::string& directory) {
  SlowTokenizerConfig config;
  SpecialTokenFields fields;
  const fs::path config_path = fs::path(directory) / "tokenizer_config.json";
  const json* added_tokens_decoder = nullptr;
  std::optional<JsonFile> tokenizer_config;
  if (fs::exists(config_path)) {
    tokenizer_config = JsonFile::Load(config_path.string());
    Check(tokenizer_config->root().is_object(), config_path.string(),
          ": the top level must be a JSON object");
    config.add_bos_token = tokenizer_config->Find<bool>("add_bos_token");
    config.add_eos_token = tokenizer_config->Find<bool>("add_eos_token");
    config.tokenizer_class = tokenizer_config->Find<std::string>("tokenizer_class");
    config.tokenizer_config_path = config_path.string();
    ReadSpecialTokenFields(*tokenizer_config, fields);
    added_tokens_decoder = tokenizer_config->Node("added_tokens_decoder");
  }
  if (added_tokens_decoder && !added_tokens_decoder->is_null()) {
    SetSpecialTokens(fields, config);
    ReadAddedTokensDecoder(*tokenizer_config, *added_tokens_decoder, config);
    return config;
  }
  // The legacy files, read only without added_tokens_decoder, as transformers does.
  const fs::path map_path = fs::path(directory) / "special_tokens_map.json";
  if (fs::exists(map_path)) {
    const JsonFile map = JsonFile::Load(map_path.string());
    Check(map.root().is_object(), map_path.string(), ": the top level must be a JSON object");
    ReadSpecialTokenFields(map, fields);
  }
  SetSpecialTokens(fields, config);
  const fs::path added_path = fs::path(directory) / "added_tokens.json";
  if (fs::exists(added_path)) ReadAddedTokensFile(JsonFile::Load(added_path.string()), config);
  return config;
}

json AddedAndSpecialTokens(
    const SlowTokenizerConfig& config,
    const std::function<std::optional<int32_t>(std::string_view)>& model_id) {
  // Sets, not scans: both lists may be long in a hostile file.
  std::unordered_set<std::string> named_contents, added_contents;
  for (const SlowTokenizerConfig::NamedToken& named : config.special_tokens) {
    named_contents.insert(named.content);
  }
  json tokens = config.added_tokens;
  for (json& token : tokens) {
    const auto content = token.find("content");
    if (content == token.end() || !content->is_string()) continue;  // refused by the caller
    added_contents.insert(content->get<std::string>());
    token["special"] = named_contents.contains(content->get_ref<const std::string&>());
  }
  for (const SlowTokenizerConfig::NamedToken& named : config.special_tokens) {
    if (!added_contents.insert(named.content).second) continue;
    const std::optional<int32_t> id = model_id(named.content);
    Check(id.has_value(), named.source, " (\"", named.content,
          "\") is neither an added token nor in the vocabulary");
    tokens.push_back({{"id", *id}, {"content", named.content}, {"special", true}});
  }
  return tokens;
}

}  // namespace lightvlm
