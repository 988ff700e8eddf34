// What a checkpoint's config.json says about its LLM decoder (Llama, Qwen2, InternLM2 and the text
// half of the VLM families). Read and validated once; the decoder is built from this alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/json_file.h"

namespace lightvlm {

// rope_scaling of config.json (rope_parameters in transformers 5.x). kind "default" means plain
// RoPE.
struct RopeScaling {
  std::string kind = "default";  // default | linear | dynamic | llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;                     // llama3
  double high_freq_factor = 4.0;                    // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
  // Qwen2-VL's M-RoPE (rope_type "mrope", or "default" as transformers 4.46 rewrites it): how many
  // of the head_dim / 2 frequencies, in order, turn by the temporal, height and width ids. Empty
  // for one id a token.
  std::vector<int64_t> mrope_section;
};

struct LlmConfig {
  std::string model_type;  // llama | qwen2 | internlm2
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  std::string hidden_act = "silu";
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2 always; Llama when attention_bias; InternLM2 when bias
  bool o_bias = false;    // Llama when attention_bias; InternLM2 when bias
  bool mlp_bias = false;  // Llama when mlp_bias
  std::vector<int32_t> eos_token_ids;
  int32_t bos_token_id = -1;  // -1 when the config names none

  int64_t kv_dim() const { return num_kv_heads * head_dim; }
  int64_t q_dim() const { return num_heads * head_dim; }
};

// Reads the decoder's fields under `prefix` ("" for a text model, "text_config." or "llm_config."
// inside a VLM config). Errors name the file and the field.
LlmConfig ReadLlmConfig(const JsonFile& config, const std::string& prefix = "");

// A field holding one token id or a list of them (eos_token_id); empty when absent or null.
std::vector<int32_t> ReadTokenIds(const JsonFile& file, const std::string& field);

// RoPE inverse frequencies [head_dim / 2] with the config's scaling applied.
std::vector<float> RopeInverseFrequencies(const LlmConfig& config);

}  // namespace lightvlm
