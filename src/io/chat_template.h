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

// The template a checkpoint directory ships. transformers has kept it in four places over its
// versions; a checkpoint may hold several, and this takes the one transformers 5.x renders
// (measured with 5.25):
//   1. processor_config.json, key "chat_template" (the first processors with templates);
//   2. chat_template.json, key "chat_template" (the processor's file before the .jinja one);
//   3. chat_template.jinja, the template as it is (what 5.x writes);
//   4. tokenizer_config.json, key "chat_template" (the tokenizer's; a string, or a list of
//      {"name", "template"} of which "default" is used).
// 1 to 3 are the processor's, in its precedence (a chat_template.json is preferred to the .jinja
// file); 4 is the tokenizer's, which the .jinja file also overrides. nullopt when none has one;
// fails naming the file when one is not JSON or holds a template of the wrong type.
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
