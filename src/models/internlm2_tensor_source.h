// The tensors of an InternLM2 checkpoint (InternLM2ForCausalLM, and the LLM of InternVL2.5-2B, 8B
// and 26B) under the Hugging Face Llama names the decoder loads, so that Decoder builds from it
// exactly as from a Llama checkpoint. The name table (`stored` = the checkpoint's decoder prefix,
// "model." for a text model, "language_model.model." in InternVL's original checkpoints):
//   model.embed_tokens.weight                      <stored>tok_embeddings.weight
//   model.norm.weight                              <stored>norm.weight
//   lm_head.weight                                 the output name ("output.weight")
//   model.layers.N.input_layernorm.weight          <stored>layers.N.attention_norm.weight
//   model.layers.N.self_attn.{q,k,v}_proj.*        <stored>layers.N.attention.wqkv.* (split)
//   model.layers.N.self_attn.o_proj.*              <stored>layers.N.attention.wo.*
//   model.layers.N.post_attention_layernorm.*      <stored>layers.N.ffn_norm.*
//   model.layers.N.mlp.{gate,up,down}_proj.*       <stored>layers.N.feed_forward.{w1,w3,w2}.*
// wqkv fuses q, k and v in InternLM2's grouped order: its rows are
// [num_kv_heads, num_heads / num_kv_heads + 2, head_dim], each KV group's query heads, then its
// key head, then its value head. Loading q_proj, k_proj or v_proj reads the whole fused tensor in
// the dtype asked for (so at most one fused copy, never more than its float32 size, sits beside
// the part) and copies the part's rows out; each of the three reads it again rather than keeping
// it between calls.
#pragma once

#include <string>

#include "io/tensor_source.h"
#include "models/decoder.h"
#include "models/llm_config.h"

namespace lightvlm {

// Where a checkpoint keeps InternLM2's tensors: under `prefix` ("model." in a text model), with the
// output matrix named `lm_head` ("output.weight"). InternVL's original checkpoints use
// {"language_model.model.", "language_model.output.weight"}.
inline DecoderTensorNames InternLM2TextModelNames() { return {"model.", "output.weight"}; }

class InternLM2TensorSource : public TensorSource {
 public:
  // `stored` must outlive this; `config` (model_type internlm2) gives the head counts the fused
  // tensor is split by. The tensors are presented under the decoder's default names
  // (DecoderTensorNames{}: "model." and "lm_head.weight").
  InternLM2TensorSource(const TensorSource& stored, const LlmConfig& config,
                        DecoderTensorNames stored_names = InternLM2TextModelNames());

  bool Contains(const std::string& name) const override;
  // Errors name the file and the stored tensor (from `stored`) and the decoder's name it stands
  // for.
  Tensor Load(const std::string& name, const Shape& expected_shape, DType dtype) const override;

 private:
  const TensorSource& stored_;
  LlmConfig config_;
  DecoderTensorNames stored_names_;
};

}  // namespace lightvlm
