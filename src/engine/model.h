// Everything generation needs from a checkpoint directory or a GGUF file: the model family, its
// tokenizer and the tokens that end an answer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/prompt.h"
#include "io/tokenizer.h"
#include "models/language_model.h"

namespace lightvlm {

struct Model {
  std::string path;  // the checkpoint directory or GGUF file
  std::unique_ptr<LanguageModel> language_model;
  std::unique_ptr<Tokenizer> tokenizer;
  // eos ids of config.json and generation_config.json; of a GGUF file, its eos, eot and eom ids
  std::vector<int32_t> stop_token_ids;

  const Decoder& decoder() const { return language_model->decoder(); }
  const LlmConfig& config() const { return decoder().config(); }
};

// Reads config.json, the safetensors weights, tokenizer.json and generation_config.json (when
// present) of the directory `path`; or, when `path` is a file, the GGUF file (architecture llama
// or qwen2: config, weights and tokenizer from its metadata and tensors). Errors name the file
// and the problem. Weight matrices are held in `weight_dtype` (F32, BF16, I8 or Q4).
Model LoadModel(const std::string& path, const LoadOptions& options);
inline Model LoadModel(const std::string& path, DType weight_dtype = DType::kF32) {
  return LoadModel(path, LoadOptions{weight_dtype});
}

// The prompt for `question` about `images`, built by one rule for every command: wrapped in the
// checkpoint's chat format (used as given when `raw`), tokenized, and each image placed at its
// image token. A placeholder without an image is an error, also in a text-only prompt (an
// "<image>" typed there is never passed to the model as text), and so is an image without one.
Prompt MakePrompt(const Model& model, const std::string& question,
                  std::span<const ImageEmbeddings> images, bool raw = false);

// The prompt for a whole conversation (system, user and assistant turns, the answer's turn opened
// after them) in the checkpoint's chat format, with `images` in the order the turns hold them.
Prompt MakeConversationPrompt(const Model& model, std::span<const ChatMessage> messages,
                              std::span<const ImageEmbeddings> images);

}  // namespace lightvlm
