// Everything generation needs from a checkpoint directory: the model family, its tokenizer and
// the tokens that end an answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "models/language_model.h"

namespace lightvlm {

struct Model {
  std::string directory;
  std::unique_ptr<LanguageModel> language_model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int32_t> stop_token_ids;  // eos ids of config.json and generation_config.json

  const Decoder& decoder() const { return language_model->decoder(); }
  const LlmConfig& config() const { return decoder().config(); }
};

// Reads config.json, the safetensors weights, tokenizer.json and generation_config.json (when
// present) of `directory`. Errors name the file and the problem.
// Weight matrices are held in `weight_dtype` (F32, BF16 or I8).
Model LoadModel(const std::string& directory, DType weight_dtype = DType::kF32);

}  // namespace lightvlm
