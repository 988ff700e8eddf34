// A family's chat format taken from the checkpoint's chat template: one user turn holding images
// and a question, rendered as transformers' apply_chat_template(..., add_generation_prompt=True)
// renders it, with the special tokens of tokenizer_config.json as template variables.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "io/chat_template.h"
#include "io/gguf_file.h"

namespace lightvlm {

// One turn of a conversation: its role (system, user, assistant), its text, and how many images
// come before the text (user turns).
struct ChatMessage {
  std::string role;
  std::string text;
  int64_t images = 0;
};

// How the images of a user turn reach the template.
enum class ImagesInMessage {
  kContentParts,  // content is a list: {"type": "image"} per image, then {"type": "text"}
  kTextPrefix,    // content is a string: a placeholder per image, each followed by "\n", then
                  // the question (templates that take only strings, as OpenGVLab's)
};

class ChatFormat {
 public:
  ChatFormat(ChatTemplateSource source, nlohmann::ordered_json special_tokens);

  // The checkpoint's template (io/chat_template.h says where it is looked for) with the special
  // tokens of its tokenizer_config.json; nullopt when it ships none.
  static std::optional<ChatFormat> Find(const std::string& directory);
  // A GGUF file's tokenizer.chat_template, with the bos, eos, unknown and padding tokens' texts
  // of its vocabulary; nullopt when it has none.
  static std::optional<ChatFormat> FromGguf(const GgufFile& file);

  // The conversation `messages`, and the assistant's turn opened after it.
  std::string Render(std::span<const ChatMessage> messages, ImagesInMessage images,
                     const std::string& placeholder = "") const;

 private:
  ChatTemplate template_;
  nlohmann::ordered_json special_tokens_;  // bos_token, eos_token, ... as strings
};

}  // namespace lightvlm
