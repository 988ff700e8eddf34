// The LLM config of a GGUF file of architecture llama or qwen2: the "<arch>.*" hyperparameters
// (io/gguf_llm_params.h), the special tokens of the tokenizer metadata, and what the tensors
// imply (output.weight absent: tied embeddings; llama with attn_q.bias: attention bias).
#pragma once

#include "io/gguf_file.h"
#include "models/llm_config.h"

namespace lightvlm {

// Errors name the file and the key (or tensor). RoPE scaling other than none or linear is
// rejected, as is a rope_freqs tensor (llama3 scaling stored as factors), rather than ignored.
LlmConfig LlmConfigFromGguf(const GgufFile& file);

}  // namespace lightvlm
