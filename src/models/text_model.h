// A text-only causal LM (LlamaForCausalLM, Qwen2ForCausalLM, InternLM2ForCausalLM, or a GGUF file
// of architecture llama / qwen2): the decoder and nothing else.
#pragma once

#include <string>

#include "io/json_file.h"
#include "models/language_model.h"

namespace lightvlm {

class TextModel : public LanguageModel {
 public:
  TextModel(const JsonFile& config, const std::string& directory, DType weight_dtype = DType::kF32);
  // From a config and weights read elsewhere (a GGUF file).
  TextModel(const LlmConfig& config, const TensorSource& weights, DType weight_dtype);

  const Decoder& decoder() const override { return decoder_; }
  std::string family() const override { return decoder_.config().model_type; }
  std::string FormatPrompt(const std::string& question, int64_t num_images) const override;

 private:
  Decoder decoder_;
};

}  // namespace lightvlm
