#include "models/gguf_tensor_source.h"

#include <array>
#include <utility>

#include "base/error.h"
#include "io/gguf_rope_rows.h"
#include "models/layer_tensor_name.h"

namespace lightvlm {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kGlobalNames = {{
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
}};

// Within a layer, the part of the name before ".weight" / ".bias".
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kLayerNames = {{
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
}};

constexpr std::string_view kLayerPrefix = "model.layers.";

}  // namespace

std::optional<std::string> GgufTensorName(const std::string& name) {
  for (const auto& [hf, gguf] : kGlobalNames) {
    if (name == hf) return std::string(gguf);
  }
  const std::optional<LayerTensorName> split = SplitLayerTensorName(name, kLayerPrefix);
  if (!split.has_value()) return std::nullopt;
  for (const auto& [hf, gguf] : kLayerNames) {
    if (!split->rest.starts_with(hf)) continue;
    const std::string_view suffix = split->rest.substr(hf.size());
    if (suffix != ".weight" && suffix != ".bias") continue;
    return StrCat("blk.", split->layer, ".", gguf, suffix);
  }
  return std::nullopt;
}

GgufTensorSource::GgufTensorSource(const GgufFile& file, const LlmConfig& config)
    : file_(file), config_(config) {}

bool GgufTensorSource::Contains(const std::string& name) const {
  const std::optional<std::string> gguf_name = GgufTensorName(name);
  return gguf_name.has_value() && file_.HasTensor(*gguf_name);
}

Tensor GgufTensorSource::Load(const std::string& name, const Shape& expected_shape,
                              DType dtype) const {
  const std::optional<std::string> gguf_name = GgufTensorName(name);
  Check(gguf_name.has_value(), file_.path(), ": no GGUF tensor stands for '", name, "'");
  Tensor tensor = [&] {
    try {
      return file_.LoadF32(*gguf_name, expected_shape);
    } catch (const Error& error) {
      Fail(error.what(), " (the decoder's ", name, ")");
    }
  }();
  if (config_.model_type == "llama") {
    if (gguf_name->ends_with(".attn_q.weight") || gguf_name->ends_with(".attn_q.bias")) {
      tensor = UndoLlamaRopeRowOrder(tensor.view(), config_.num_heads);
    } else if (gguf_name->ends_with(".attn_k.weight") || gguf_name->ends_with(".attn_k.bias")) {
      tensor = UndoLlamaRopeRowOrder(tensor.view(), config_.num_kv_heads);
    }
  }
  if (dtype == DType::kF32) return tensor;
  Tensor converted(dtype, tensor.shape());
  if (tensor.num_elements() > 0) {
    ConvertFromF32(tensor.f32(), dtype, converted.view().raw(), tensor.num_elements());
  }
  return converted;
}

}  // namespace lightvlm
