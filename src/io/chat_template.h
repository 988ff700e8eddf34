// The chat template of a checkpoint directory. transformers has kept it in four places over its
// versions; a checkpoint may hold several, and this takes the one transformers 5.x renders:
//   1. processor_config.json, key "chat_template" (the first processors with templates);
//   2. chat_template.json, key "chat_template" (the processor's file before the .jinja one);
//   3. chat_template.jinja, the template as it is (what 5.x writes);
//   4. tokenizer_config.json, key "chat_template" (the tokenizer's; a string, or a list of
//      {"name", "template"} of which "default" is used).
// 1 to 3 are the processor's, in its precedence (5.x: a chat_template.json is preferred to the
// .jinja file); 4 is the tokenizer's, which the .jinja file also overrides.
#pragma once

#include <string>

namespace lightvlm {

struct ChatTemplate {
  std::string text;    // empty when the checkpoint has none
  std::string source;  // the file it was read from; empty when none
};

// Errors name the file when one of these is not JSON or holds a template of the wrong type.
ChatTemplate ReadChatTemplate(const std::string& directory);

}  // namespace lightvlm
