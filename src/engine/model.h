// Everything generation needs from a checkpoint directory: the decoder, its tokenizer and the
// tokens that end an answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "models/decoder.h"
#include "models/llm_config.h"

namespace lightvlm {

struct Model {
  std::string directory;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int32_t> stop_token_ids;  // eos ids of config.json and generation_config.json

  const LlmConfig& config() const { return decoder->config(); }
};

// Reads config.json, the safetensors weights, tokenizer.json and generation_config.json (when
// present) of `directory`. Errors name the file and the problem.
Model LoadModel(const std::string& directory);

}  // namespace lightvlm
