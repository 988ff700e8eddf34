// A text-only causal LM (LlamaForCausalLM, Qwen2ForCausalLM, InternLM2ForCausalLM, or a GGUF file
// of architecture llama / qwen2): the decoder and nothing else.
#pragma once

#include <optional>
#include <string>

#include "io/json_file.h"
#include "models/chat_format.h"
#include "models/language_model.h"

namespace lightvlm {

class TextModel : public LanguageModel {
 public:
  // The chat format is the checkpoint's chat template when it ships one.
  TextModel(const JsonFile& config, const std::string& directory, DType weight_dtype = DType::kF32);
  // From a config, weights and chat format read elsewhere (a GGUF file).
  TextModel(const LlmConfig& config, const TensorSource& weights, DType weight_dtype,
            std::optional<ChatFormat> chat = std::nullopt);

  const Decoder& decoder() const override { return decoder_; }
  std::string family() const override { return decoder_.config().model_type; }
  // The conversation in the chat template; without one (a base model), a single user turn's text
  // as it is.
  std::string FormatConversation(std::span<const ChatMessage> messages) const override;
  bool formats_special_tokens() const override { return chat_.has_value(); }

 private:
  Decoder decoder_;
  std::optional<ChatFormat> chat_;
};

}  // namespace lightvlm
