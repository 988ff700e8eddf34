#include "models/gguf_llm_config.h"

#include "base/error.h"
#include "io/gguf_llm_params.h"
#include "io/gguf_tokenizer.h"

namespace lightvlm {
namespace {

RopeScaling ReadGgufRopeScaling(const GgufFile& file, const std::string& arch) {
  RopeScaling scaling;
  const std::string type_key = arch + ".rope.scaling.type";
  const std::string type = file.Has(type_key) ? file.String(type_key) : "none";
  if (type == "linear") {
    scaling.kind = "linear";
    const std::string factor_key = arch + ".rope.scaling.factor";
    scaling.factor = file.Float(factor_key);
    Check(scaling.factor > 0, file.path(), ": ", factor_key, " must be positive");
  } else {
    Check(type == "none", file.path(), ": ", type_key, " \"", type,
          "\" is not supported (supported: none, linear)");
  }
  Check(!file.HasTensor("rope_freqs.weight"), file.path(),
        ": tensor 'rope_freqs.weight' (per-frequency RoPE factors) is not supported");
  return scaling;
}

}  // namespace

LlmConfig LlmConfigFromGguf(const GgufFile& file) {
  const GgufLlmParams params = ReadGgufLlmParams(file);
  const std::string& arch = params.architecture;
  LlmConfig c;
  c.model_type = arch;
  c.hidden_size = params.embedding_length;
  c.intermediate_size = params.feed_forward_length;
  c.num_layers = params.block_count;
  c.num_heads = params.head_count;
  c.num_kv_heads = params.head_count_kv;
  c.head_dim = params.head_dim;
  Check(c.head_dim % 2 == 0, file.path(), ": the head dimension (", c.head_dim,
        ") must be even for RoPE");
  c.vocab_size = params.vocab_size;
  c.max_position_embeddings = params.context_length;
  c.rms_norm_eps = params.rms_norm_eps;
  c.rope_theta = params.rope_freq_base;
  Check(c.rope_theta > 0, file.path(), ": ", arch, ".rope.freq_base must be positive");
  c.rope_scaling = ReadGgufRopeScaling(file, arch);
  c.tie_word_embeddings = !file.HasTensor("output.weight");
  // Qwen2 always has q/k/v biases: a file without them is missing tensors, which loading reports.
  c.qkv_bias = arch == "qwen2" || file.HasTensor("blk.0.attn_q.bias");
  c.o_bias = arch == "llama" && file.HasTensor("blk.0.attn_output.bias");
  c.mlp_bias = arch == "llama" && file.HasTensor("blk.0.ffn_up.bias");
  const GgufSpecialTokens special = ReadGgufSpecialTokens(file);
  if (special.eos) c.eos_token_ids.push_back(*special.eos);
  if (special.bos) c.bos_token_id = *special.bos;
  return c;
}

}  // namespace lightvlm
