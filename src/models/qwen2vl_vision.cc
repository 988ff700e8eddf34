#include "models/qwen2vl_vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "models/qwen2vl_vision_positions.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

// The layer tensors under "blocks.<i>.": Qwen2.5-VL's MLP is gated (SwiGLU).
VitLayerTensorNames LayerNames(bool qwen25) {
  VitLayerTensorNames names;
  names.norm1 = "norm1";
  names.qkv = "attn.qkv";
  names.out = "attn.proj";
  names.norm2 = "norm2";
  names.fc1 = qwen25 ? "mlp.up_proj" : "mlp.fc1";
  names.fc2 = qwen25 ? "mlp.down_proj" : "mlp.fc2";
  if (qwen25) names.gate = "mlp.gate_proj";
  return names;
}

constexpr float kNormEps = 1e-6f;  // every norm of both towers

int64_t Positive(const JsonFile& config, const std::string& field, int64_t fallback) {
  const auto value = config.GetOr<int64_t>(field, fallback);
  Check(value > 0 && value <= (int64_t{1} << 24), config.path(), ": ", field,
        " must be positive (and below 2^24), got ", value);
  return value;
}

// The rotary frequencies of the tower's 2D positions (VisionRotaryEmbedding(head_dim / 2)):
// head_dim / 4 frequencies, turned by the patch's row, then the same ones turned by its column.
// Computed in float32, as the reference's torch.arange(...) / dim.
void VisionRotary(int64_t head_dim, float theta, VitAttentionLayout& layout) {
  const int64_t quarter = head_dim / 4;
  const float dim = static_cast<float>(head_dim / 2);
  std::vector<float> inv_freq(quarter);
  for (int64_t i = 0; i < quarter; ++i) {
    inv_freq[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / dim);
  }
  layout.rotary_axes = 2;
  layout.rotary_inv_freq = inv_freq;
  layout.rotary_inv_freq.insert(layout.rotary_inv_freq.end(), inv_freq.begin(), inv_freq.end());
  layout.rotary_axis.assign(quarter, 0);
  layout.rotary_axis.insert(layout.rotary_axis.end(), quarter, 1);
}

}  // namespace

Qwen2VlVisionConfig ReadQwen2VlVisionConfig(const JsonFile& config) {
  const std::string model_type = config.Get<std::string>("model_type");
  Check(model_type == "qwen2_vl" || model_type == "qwen2_5_vl", config.path(), ": model_type '",
        model_type, "' is not Qwen2-VL's (qwen2_vl, qwen2_5_vl)");
  Qwen2VlVisionConfig c;
  c.qwen25 = model_type == "qwen2_5_vl";
  const std::string p = "vision_config.";
  c.depth = Positive(config, p + "depth", 32);
  c.in_channels =
      config.Find<int64_t>(p + "in_channels").value_or(config.GetOr<int64_t>(p + "in_chans", 3));
  Check(c.in_channels == 3, config.path(), ": ", p, "in_channels must be 3 (RGB), got ",
        c.in_channels);
  c.patch_size = Positive(config, p + "patch_size", 14);
  c.temporal_patch_size = Positive(config, p + "temporal_patch_size", 2);
  c.spatial_merge_size = Positive(config, p + "spatial_merge_size", 2);
  c.rope_theta = config.GetOr<double>(p + "rope_parameters.rope_theta", 10000.0);  // 5.x writes it
  Check(c.rope_theta > 0, config.path(), ": ", p, "rope_parameters.rope_theta must be positive");
  VitEncoderConfig& e = c.encoder;
  e.norm_eps = kNormEps;
  e.attention_bias = true;
  if (c.qwen25) {
    e.hidden_size = Positive(config, p + "hidden_size", 3584);
    e.intermediate_size = Positive(config, p + "intermediate_size", 3420);
    e.hidden_act = config.GetOr<std::string>(p + "hidden_act", "silu");
    e.norm_type = VitNormType::kRmsNorm;
    e.gated_mlp = true;
    c.out_hidden_size = Positive(config, p + "out_hidden_size", 3584);
    c.window_size = Positive(config, p + "window_size", 112);
    c.fullatt_block_indexes =
        config.GetOr<std::vector<int64_t>>(p + "fullatt_block_indexes", {7, 15, 23, 31});
    for (const int64_t layer : c.fullatt_block_indexes) {
      Check(layer >= 0 && layer < c.depth, config.path(), ": ", p, "fullatt_block_indexes holds ",
            layer, ", not a layer below depth ", c.depth);
    }
    Check(c.window_size % (c.patch_size * c.spatial_merge_size) == 0, config.path(), ": ", p,
          "window_size (", c.window_size, ") is not a multiple of patch_size * spatial_merge_size");
  } else {
    e.hidden_size = Positive(config, p + "embed_dim", 1280);
    e.intermediate_size = e.hidden_size * Positive(config, p + "mlp_ratio", 4);
    e.hidden_act = config.GetOr<std::string>(p + "hidden_act", "quick_gelu");
    e.norm_type = VitNormType::kLayerNorm;
    c.out_hidden_size = Positive(config, p + "hidden_size", 3584);
  }
  e.num_heads = Positive(config, p + "num_heads", 16);
  CheckVitEncoderConfig(e, config.path() + ": " + p);
  Check((e.hidden_size / e.num_heads) % 4 == 0, config.path(), ": ", p,
        "the head width (hidden / num_heads = ", e.hidden_size / e.num_heads,
        ") must be a multiple of 4 for the 2D rotary positions");
  return c;
}

VisionWindows VisionWindowOrder(const ImageGridThw& grid, int64_t spatial_merge_size,
                                int64_t merged_window) {
  Check(merged_window > 0 && grid.t > 0 && grid.h % spatial_merge_size == 0 &&
            grid.w % spatial_merge_size == 0,
        "vision windows: grid (", grid.t, ", ", grid.h, ", ", grid.w,
        ") does not split into windows of ", merged_window, " merged tokens");
  const int64_t h = grid.h / spatial_merge_size, w = grid.w / spatial_merge_size;
  const int64_t unit = spatial_merge_size * spatial_merge_size;
  VisionWindows windows;
  windows.boundaries = {0};
  for (int64_t t = 0; t < grid.t; ++t) {
    for (int64_t top = 0; top < h; top += merged_window) {
      for (int64_t left = 0; left < w; left += merged_window) {
        for (int64_t y = top; y < std::min(h, top + merged_window); ++y) {
          for (int64_t x = left; x < std::min(w, left + merged_window); ++x) {
            windows.merged_order.push_back((t * h + y) * w + x);
          }
        }
        windows.boundaries.push_back(static_cast<int64_t>(windows.merged_order.size()) * unit);
      }
    }
  }
  return windows;
}

Qwen2VlVisionTower::Qwen2VlVisionTower(const Qwen2VlVisionConfig& config,
                                       const TensorSource& weights, const std::string& prefix,
                                       DType weight_dtype)
    : config_(config),
      encoder_(config.encoder, weights, prefix + "blocks.", LayerNames(config.qwen25), config.depth,
               weight_dtype) {
  const Qwen2VlVisionConfig& c = config_;
  const int64_t d = c.encoder.hidden_size;
  Tensor patch =
      weights.LoadF32(prefix + "patch_embed.proj.weight",
                      {d, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size});
  patch.Reshape({d, c.patch_width()});
  patch_embed_ = LinearFromF32(std::move(patch), weight_dtype);
  merger_norm_.weight = weights.LoadF32(prefix + "merger.ln_q.weight", {d});
  if (!c.qwen25) merger_norm_.bias = weights.LoadF32(prefix + "merger.ln_q.bias", {d});
  const int64_t merged = d * c.spatial_merge_size * c.spatial_merge_size;
  merger_fc1_ = LoadLinear(weights, prefix + "merger.mlp.0", merged, merged, true, weight_dtype);
  merger_fc2_ =
      LoadLinear(weights, prefix + "merger.mlp.2", c.out_hidden_size, merged, true, weight_dtype);
}

Tensor Qwen2VlVisionTower::Forward(ThreadPool& pool, const Tensor& patches,
                                   const ImageGridThw& grid) const {
  const Qwen2VlVisionConfig& c = config_;
  const int64_t n = grid.t * grid.h * grid.w, d = c.encoder.hidden_size;
  const int64_t unit = c.spatial_merge_size * c.spatial_merge_size;
  Check(patches.shape().size() == 2 && patches.dim(0) == n && patches.dim(1) == c.patch_width(),
        "Qwen2-VL vision tower: patches of shape ", ShapeToString(patches.shape()), " for grid (",
        grid.t, ", ", grid.h, ", ", grid.w, "), expected [", n, ", ", c.patch_width(), "]");
  const std::vector<PatchRowColumn> positions =
      VisionRotaryPositions(std::span(&grid, 1), static_cast<int>(c.spatial_merge_size));
  // The rows' order in the encoder: the processor's, or window by window (Qwen2.5-VL), moving
  // each merged token's `unit` patch rows together.
  std::vector<int64_t> merged_order(n / unit);
  for (int64_t i = 0; i < n / unit; ++i) merged_order[i] = i;
  VitAttentionLayout layout;
  VisionRotary(d / c.encoder.num_heads, static_cast<float>(c.rope_theta), layout);
  if (c.qwen25) {
    VisionWindows windows = VisionWindowOrder(grid, c.spatial_merge_size,
                                              c.window_size / c.patch_size / c.spatial_merge_size);
    merged_order = std::move(windows.merged_order);
    const std::vector<int64_t> whole = {0, n};
    for (int64_t layer = 0; layer < c.depth; ++layer) {
      const bool full =
          std::ranges::find(c.fullatt_block_indexes, layer) != c.fullatt_block_indexes.end();
      layout.layer_blocks.push_back(full ? whole : windows.boundaries);
    }
  }
  Tensor embedded(DType::kF32, {n, d});
  patch_embed_.Forward(pool, patches.f32(), n, embedded.f32());
  Tensor hidden(DType::kF32, {n, d});
  layout.rotary_positions.resize(2 * n);
  for (int64_t to = 0; to < n / unit; ++to) {
    for (int64_t j = 0; j < unit; ++j) {
      const int64_t from_row = merged_order[to] * unit + j, to_row = to * unit + j;
      std::memcpy(hidden.f32() + to_row * d, embedded.f32() + from_row * d, d * sizeof(float));
      layout.rotary_positions[2 * to_row] = positions[from_row].row;
      layout.rotary_positions[2 * to_row + 1] = positions[from_row].column;
    }
  }
  encoder_.Forward(pool, hidden, layout);

  if (c.qwen25) {
    ops::RmsNorm(pool, hidden.f32(), merger_norm_.weight.f32(), n, d, kNormEps, hidden.f32());
  } else {
    ops::LayerNorm(pool, hidden.f32(), merger_norm_.weight.f32(), merger_norm_.bias.f32(), n, d,
                   kNormEps, hidden.f32());
  }
  // Each merged token's `unit` rows are consecutive: [n, d] is [n / unit, unit * d] as it stands.
  const int64_t merged = n / unit;
  Tensor middle(DType::kF32, {merged, d * unit});
  merger_fc1_.Forward(pool, hidden.f32(), merged, middle.f32());
  ApplyActivation(pool, "gelu", middle.f32(), middle.num_elements());
  Tensor ordered(DType::kF32, {merged, c.out_hidden_size});
  merger_fc2_.Forward(pool, middle.f32(), merged, ordered.f32());
  Tensor tokens(DType::kF32, {merged, c.out_hidden_size});
  for (int64_t i = 0; i < merged; ++i) {
    std::memcpy(tokens.f32() + merged_order[i] * c.out_hidden_size,
                ordered.f32() + i * c.out_hidden_size, c.out_hidden_size * sizeof(float));
  }
  return tokens;
}

}  // namespace lightvlm
