// The decoder hyperparameters a GGUF file states under "<architecture>.*" keys, for the two
// architectures read so far (llama, qwen2). A later loader turns them into the models layer's
// LLM config; this only reads and checks them.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf_file.h"

namespace lightvlm {

struct GgufLlmParams {
  std::string architecture;  // general.architecture: "llama" or "qwen2"
  int64_t block_count;       // decoder layers
  int64_t context_length;
  int64_t embedding_length;     // hidden size
  int64_t feed_forward_length;  // MLP intermediate size
  int64_t head_count;
  int64_t head_count_kv;  // defaults to head_count
  int64_t head_dim;       // embedding_length / head_count, or <arch>.attention.key_length
  double rope_freq_base;  // defaults to 10000
  double rms_norm_eps;    // <arch>.attention.layer_norm_rms_epsilon
  int64_t vocab_size;     // <arch>.vocab_size, else the number of tokenizer.ggml.tokens
};

// Fails naming the file and the key when the architecture is not llama or qwen2, a key is
// missing or of the wrong type, or the head counts do not divide evenly.
GgufLlmParams ReadGgufLlmParams(const GgufFile& file);

}  // namespace lightvlm
