#include "io/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "io/json_file.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

// The "chat_template" of a JSON file: a string, or the "default" entry of a list of named ones.
std::optional<std::string> TemplateInJson(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  const JsonFile file = JsonFile::Load(path.string());
  const nlohmann::json* node = file.Node("chat_template");
  if (node == nullptr || node->is_null()) return std::nullopt;
  if (node->is_string()) return node->get<std::string>();
  Check(node->is_array(), path.string(),
        ": field 'chat_template' should be a string or a list of {name, template}");
  for (const nlohmann::json& entry : *node) {
    if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
        entry["template"].is_string()) {
      return entry["template"].get<std::string>();
    }
  }
  Fail(path.string(), ": field 'chat_template' is a list without a template named \"default\"");
}

std::optional<std::string> TemplateFile(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  Check(in.good(), path.string(), ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

jinja::Template ParseWithOrigin(const ChatTemplateSource& source) {
  try {
    return jinja::Template(source.text);
  } catch (const Error& error) {
    Fail(source.origin, ": ", error.what());
  }
}

}  // namespace

std::optional<ChatTemplateSource> FindChatTemplate(const std::string& directory) {
  const fs::path dir(directory);
  const fs::path processor = dir / "processor_config.json", legacy = dir / "chat_template.json",
                 jinja = dir / "chat_template.jinja", tokenizer = dir / "tokenizer_config.json";
  if (auto text = TemplateInJson(processor)) return ChatTemplateSource{*text, processor.string()};
  if (auto text = TemplateInJson(legacy)) return ChatTemplateSource{*text, legacy.string()};
  if (auto text = TemplateFile(jinja)) return ChatTemplateSource{*text, jinja.string()};
  if (auto text = TemplateInJson(tokenizer)) return ChatTemplateSource{*text, tokenizer.string()};
  return std::nullopt;
}

ChatTemplate::ChatTemplate(ChatTemplateSource source)
    : origin_(source.origin), template_(ParseWithOrigin(source)) {}

std::string ChatTemplate::Render(const nlohmann::ordered_json& context,
                                 const jinja::RenderLimits& limits) const {
  return RenderJson(context, limits);
}

std::string ChatTemplate::Render(const nlohmann::json& context,
                                 const jinja::RenderLimits& limits) const {
  return RenderJson(context, limits);
}

template <class Json>
std::string ChatTemplate::RenderJson(const Json& context, const jinja::RenderLimits& limits) const {
  try {
    return template_.Render(jinja::FromJson(context), limits);
  } catch (const Error& error) {
    Fail(origin_, ": ", error.what());
  }
}

}  // namespace lightvlm
