#include "io/chat_template.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/json_file.h"

namespace lightvlm {
namespace {

jinja::Template ParseWithOrigin(const ChatTemplateSource& source) {
  try {
    return jinja::Template(source.text);
  } catch (const Error& error) {
    Fail(source.origin, ": ", error.what());
  }
}

}  // namespace

std::optional<ChatTemplateSource> FindChatTemplate(const std::string& directory) {
  namespace fs = std::filesystem;
  const fs::path jinja_path = fs::path(directory) / "chat_template.jinja";
  if (fs::exists(jinja_path)) {
    std::ifstream file(jinja_path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    Check(file.good() || file.eof(), jinja_path.string(), ": cannot be read");
    return ChatTemplateSource{text.str(), jinja_path.string()};
  }
  const fs::path json_path = fs::path(directory) / "chat_template.json";
  if (fs::exists(json_path)) {
    const JsonFile json = JsonFile::Load(json_path.string());
    return ChatTemplateSource{json.Get<std::string>("chat_template"),
                              json_path.string() + ": chat_template"};
  }
  const fs::path config_path = fs::path(directory) / "tokenizer_config.json";
  if (!fs::exists(config_path)) return std::nullopt;
  const JsonFile config = JsonFile::Load(config_path.string());
  const nlohmann::json* node = config.Node("chat_template");
  if (!node || node->is_null()) return std::nullopt;
  const std::string origin = config_path.string() + ": chat_template";
  if (node->is_string()) return ChatTemplateSource{node->get<std::string>(), origin};
  Check(node->is_array(), origin, " is neither a string nor a list of {name, template}");
  for (const nlohmann::json& entry : *node) {
    Check(entry.is_object() && entry.contains("name") && entry["name"].is_string() &&
              entry.contains("template") && entry["template"].is_string(),
          origin, ": every entry needs a string \"name\" and \"template\"");
    if (entry["name"] == "default")
      return ChatTemplateSource{entry["template"].get<std::string>(), origin + " (default)"};
  }
  Fail(origin, ": no entry is named \"default\"");
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
