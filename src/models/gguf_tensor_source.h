// The tensors of a GGUF file (llama.cpp's llama / qwen2 layout) under the Hugging Face names the
// decoder loads, so that Decoder builds from a GGUF file exactly as from a safetensors checkpoint.
// The name table:
//   model.embed_tokens.weight                     token_embd.weight
//   model.norm.weight                             output_norm.weight
//   lm_head.weight                                output.weight
//   model.layers.N.input_layernorm.weight         blk.N.attn_norm.weight
//   model.layers.N.self_attn.{q,k,v,o}_proj.*     blk.N.attn_{q,k,v,output}.*
//   model.layers.N.post_attention_layernorm.*     blk.N.ffn_norm.*
//   model.layers.N.mlp.{gate,up,down}_proj.*      blk.N.ffn_{gate,up,down}.*
// Each tensor is dequantized to float32 on its own and converted to the dtype asked for, so a
// load holds at most one tensor's float32 copy beside the weights kept. For architecture llama
// the converter's RoPE row order of attn_q and attn_k is undone (io/gguf_rope_rows.h).
#pragma once

#include <optional>
#include <string>

#include "io/gguf_file.h"
#include "io/tensor_source.h"
#include "models/llm_config.h"

namespace lightvlm {

// The GGUF name of Hugging Face decoder tensor `name`, or nullopt when the table has none.
std::optional<std::string> GgufTensorName(const std::string& name);

class GgufTensorSource : public TensorSource {
 public:
  // `file` must outlive this; `config` (from LlmConfigFromGguf) gives the architecture and the
  // head counts the RoPE row order depends on.
  GgufTensorSource(const GgufFile& file, const LlmConfig& config);

  bool Contains(const std::string& name) const override;
  // Errors name the file and the GGUF tensor (and the Hugging Face name it stands for).
  Tensor Load(const std::string& name, const Shape& expected_shape, DType dtype) const override;

 private:
  const GgufFile& file_;
  LlmConfig config_;
};

}  // namespace lightvlm
