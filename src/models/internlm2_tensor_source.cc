#include "models/internlm2_tensor_source.h"

#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "base/error.h"
#include "models/layer_tensor_name.h"

namespace lightvlm {
namespace {

// Which rows of the stored tensor a decoder tensor is: all, or one part of the fused wqkv.
enum class QkvPart { kNone, kQuery, kKey, kValue };

struct LayerName {
  std::string_view decoder;    // the decoder's name within a layer, before ".weight" / ".bias"
  std::string_view internlm2;  // InternLM2's
  QkvPart part;
};

constexpr std::array<LayerName, 9> kLayerNames = {{
    {"input_layernorm", "attention_norm", QkvPart::kNone},
    {"self_attn.q_proj", "attention.wqkv", QkvPart::kQuery},
    {"self_attn.k_proj", "attention.wqkv", QkvPart::kKey},
    {"self_attn.v_proj", "attention.wqkv", QkvPart::kValue},
    {"self_attn.o_proj", "attention.wo", QkvPart::kNone},
    {"post_attention_layernorm", "ffn_norm", QkvPart::kNone},
    {"mlp.gate_proj", "feed_forward.w1", QkvPart::kNone},
    {"mlp.up_proj", "feed_forward.w3", QkvPart::kNone},
    {"mlp.down_proj", "feed_forward.w2", QkvPart::kNone},
}};

struct StoredName {
  std::string name;
  QkvPart part = QkvPart::kNone;
};

// The stored tensor that decoder tensor `name` (under DecoderTensorNames{}) is read from.
std::optional<StoredName> FindStoredName(const std::string& name,
                                         const DecoderTensorNames& stored) {
  const DecoderTensorNames decoder;
  if (name == decoder.prefix + "embed_tokens.weight") {
    return StoredName{stored.prefix + "tok_embeddings.weight"};
  }
  if (name == decoder.prefix + "norm.weight") return StoredName{stored.prefix + "norm.weight"};
  if (name == decoder.lm_head) return StoredName{stored.lm_head};
  const std::optional<LayerTensorName> split =
      SplitLayerTensorName(name, decoder.prefix + "layers.");
  if (!split.has_value()) return std::nullopt;
  for (const LayerName& entry : kLayerNames) {
    if (!split->rest.starts_with(entry.decoder)) continue;
    const std::string_view suffix = split->rest.substr(entry.decoder.size());
    if (suffix != ".weight" && suffix != ".bias") continue;
    return StoredName{StrCat(stored.prefix, "layers.", split->layer, ".", entry.internlm2, suffix),
                      entry.part};
  }
  return std::nullopt;
}

// The query, key or value rows [rows, ...] of `fused` (weight [fused_rows, hidden] or bias
// [fused_rows]), whose rows are [num_kv_heads, groups + 2, head_dim].
Tensor CopyPart(const Tensor& fused, QkvPart part, int64_t rows, const LlmConfig& config) {
  const int64_t groups = config.num_heads / config.num_kv_heads;  // query heads per KV head
  // Within each KV group's block of groups + 2 heads: the part's first head, and how many.
  const int64_t first_head = part == QkvPart::kQuery ? 0
                             : part == QkvPart::kKey ? groups
                                                     : groups + 1;
  const int64_t part_heads = part == QkvPart::kQuery ? groups : 1;
  Shape shape = fused.shape();
  shape[0] = rows;
  Tensor result(fused.dtype(), shape);
  const size_t head_bytes = fused.num_bytes() / fused.dim(0) * config.head_dim;
  if (head_bytes == 0) return result;
  const auto* from = static_cast<const std::byte*>(fused.view().raw());
  auto* to = static_cast<std::byte*>(result.view().raw());
  for (int64_t group = 0; group < config.num_kv_heads; ++group) {
    std::memcpy(to + group * part_heads * head_bytes,
                from + (group * (groups + 2) + first_head) * head_bytes, part_heads * head_bytes);
  }
  return result;
}

}  // namespace

InternLM2TensorSource::InternLM2TensorSource(const TensorSource& stored, const LlmConfig& config,
                                             DecoderTensorNames stored_names)
    : stored_(stored), config_(config), stored_names_(std::move(stored_names)) {}

bool InternLM2TensorSource::Contains(const std::string& name) const {
  const std::optional<StoredName> stored = FindStoredName(name, stored_names_);
  return stored.has_value() && stored_.Contains(stored->name);
}

Tensor InternLM2TensorSource::Load(const std::string& name, const Shape& expected_shape,
                                   DType dtype) const {
  const std::optional<StoredName> stored = FindStoredName(name, stored_names_);
  Check(stored.has_value(), "InternLM2 checkpoint: no tensor stands for the decoder's '", name,
        "'");
  if (stored->part == QkvPart::kNone) {
    try {
      return stored_.Load(stored->name, expected_shape, dtype);
    } catch (const Error& error) {
      Fail(error.what(), " (InternLM2's name for the decoder's ", name, ")");
    }
  }
  Check(!expected_shape.empty(), "the decoder asks for a scalar ", name);
  // The fused tensor's shape, checked by `stored_` against the file: every head's rows.
  Shape fused_shape = expected_shape;
  fused_shape[0] = (config_.num_heads + 2 * config_.num_kv_heads) * config_.head_dim;
  try {
    return CopyPart(stored_.Load(stored->name, fused_shape, dtype), stored->part, expected_shape[0],
                    config_);
  } catch (const Error& error) {
    Fail(error.what(), " (InternLM2's q, k and v fused: (num_attention_heads ", config_.num_heads,
         " + 2 * num_key_value_heads ", config_.num_kv_heads, ") * head_dim ", config_.head_dim,
         " rows, split for the decoder's ", name, ")");
  }
}

}  // namespace lightvlm
