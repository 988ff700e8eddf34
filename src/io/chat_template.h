// A checkpoint's chat template: found where Hugging Face checkpoints keep it, and rendered with
// the Jinja interpreter in io/jinja/ exactly as transformers' apply_chat_template renders it
// (checked byte for byte against jinja2 by tests/io/chat_template_test.cc).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "io/jinja/renderer.h"

namespace lightvlm {

struct ChatTemplateSource {
  std::string text;    // the Jinja template
  std::string origin;  // the file (and field) it came from, for errors
};

// The template a checkpoint directory ships, looked for as transformers does: chat_template.jinja,
// then chat_template.json's "chat_template", then tokenizer_config.json's "chat_template" (a
// string, or a list of {"name", "template"} of which "default" is taken). nullopt when none has
// one; fails naming the file when one is malformed.
std::optional<ChatTemplateSource> FindChatTemplate(const std::string& directory);

class ChatTemplate {
 public:
  // Parses the template; fails naming `source.origin` and the line of a syntax error or of a
  // construct the interpreter lacks.
  explicit ChatTemplate(ChatTemplateSource source);

  // `context` holds the template's variables as transformers passes them: messages (each with
  // role and content, a string or a list of {"type": "text", "text": ...} and {"type": "image"}
  // parts), add_generation_prompt, the special tokens (bos_token, eos_token, ...), tools and
  // documents (null when absent). Fails naming the origin and line at fault.
  std::string Render(const nlohmann::ordered_json& context,
                     const jinja::RenderLimits& limits = {}) const;
  // The same with keys in sorted order (as nlohmann::json keeps them).
  std::string Render(const nlohmann::json& context, const jinja::RenderLimits& limits = {}) const;

 private:
  template <class Json>
  std::string RenderJson(const Json& context, const jinja::RenderLimits& limits) const;

  std::string origin_;
  jinja::Template template_;
};

}  // namespace lightvlm
