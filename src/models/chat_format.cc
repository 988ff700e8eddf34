#include "models/chat_format.h"

#include <filesystem>

#include "base/error.h"
#include "io/gguf_tokenizer.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

constexpr const char* kSpecialTokenFields[] = {"bos_token", "eos_token", "unk_token", "pad_token"};

// tokenizer_config.json writes a special token as a string or as {"content": ...}.
nlohmann::ordered_json SpecialTokensOf(const std::string& directory) {
  nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
  const std::filesystem::path path = std::filesystem::path(directory) / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return tokens;
  const JsonFile config = JsonFile::Load(path.string());
  for (const char* field : kSpecialTokenFields) {
    const nlohmann::json* node = config.Node(field);
    if (node == nullptr || node->is_null()) continue;
    if (node->is_string()) {
      tokens[field] = node->get<std::string>();
    } else if (node->is_object() && node->contains("content") && (*node)["content"].is_string()) {
      tokens[field] = (*node)["content"].get<std::string>();
    } else {
      Fail(path.string(), ": field '", field, "' is neither a string nor {\"content\": string}");
    }
  }
  return tokens;
}

}  // namespace

ChatFormat::ChatFormat(ChatTemplateSource source, nlohmann::ordered_json special_tokens)
    : template_(std::move(source)), special_tokens_(std::move(special_tokens)) {}

std::optional<ChatFormat> ChatFormat::Find(const std::string& directory) {
  std::optional<ChatTemplateSource> source = FindChatTemplate(directory);
  if (!source) return std::nullopt;
  return ChatFormat(std::move(*source), SpecialTokensOf(directory));
}

std::optional<ChatFormat> ChatFormat::FromGguf(const GgufFile& file) {
  std::optional<std::string> text = GgufChatTemplate(file);
  if (!text) return std::nullopt;
  const std::vector<std::string>& vocabulary = file.Strings("tokenizer.ggml.tokens");
  const GgufSpecialTokens special = ReadGgufSpecialTokens(file);
  nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
  const std::pair<const char*, std::optional<int32_t>> ids[] = {{"bos_token", special.bos},
                                                                {"eos_token", special.eos},
                                                                {"unk_token", special.unknown},
                                                                {"pad_token", special.padding}};
  for (const auto& [name, id] : ids) {
    if (id && *id >= 0 && static_cast<size_t>(*id) < vocabulary.size()) {
      tokens[name] = vocabulary[*id];
    }
  }
  return ChatFormat({std::move(*text), file.path() + ": tokenizer.chat_template"},
                    std::move(tokens));
}

std::string ChatFormat::Render(std::span<const ChatMessage> messages, ImagesInMessage images,
                               const std::string& placeholder) const {
  nlohmann::ordered_json turns = nlohmann::ordered_json::array();
  for (const ChatMessage& message : messages) {
    nlohmann::ordered_json content;
    if (images == ImagesInMessage::kContentParts) {
      content = nlohmann::ordered_json::array();
      for (int64_t i = 0; i < message.images; ++i) content.push_back({{"type", "image"}});
      content.push_back({{"type", "text"}, {"text", message.text}});
    } else {
      std::string text;
      for (int64_t i = 0; i < message.images; ++i) text += placeholder + "\n";
      content = text + message.text;
    }
    turns.push_back({{"role", message.role}, {"content", content}});
  }
  nlohmann::ordered_json context = {{"messages", turns},
                                    {"tools", nullptr},
                                    {"documents", nullptr},
                                    {"add_generation_prompt", true}};
  for (const auto& [name, token] : special_tokens_.items()) context[name] = token;
  return template_.Render(context);
}

}  // namespace lightvlm
