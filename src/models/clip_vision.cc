#include "models/clip_vision.h"

#include <cmath>
#include <cstring>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

Tensor LoadVector(const Checkpoint& checkpoint, const std::string& name, int64_t size) {
  return checkpoint.LoadF32(name, {size});
}

ClipEncoderLayer LoadLayer(const ClipVisionConfig& c, const Checkpoint& checkpoint,
                           const std::string& prefix, DType dtype) {
  const int64_t d = c.hidden_size;
  ClipEncoderLayer layer;
  layer.layer_norm1_weight = LoadVector(checkpoint, prefix + "layer_norm1.weight", d);
  layer.layer_norm1_bias = LoadVector(checkpoint, prefix + "layer_norm1.bias", d);
  layer.q_proj = LoadLinear(checkpoint, prefix + "self_attn.q_proj", d, d, true, dtype);
  layer.k_proj = LoadLinear(checkpoint, prefix + "self_attn.k_proj", d, d, true, dtype);
  layer.v_proj = LoadLinear(checkpoint, prefix + "self_attn.v_proj", d, d, true, dtype);
  layer.out_proj = LoadLinear(checkpoint, prefix + "self_attn.out_proj", d, d, true, dtype);
  layer.layer_norm2_weight = LoadVector(checkpoint, prefix + "layer_norm2.weight", d);
  layer.layer_norm2_bias = LoadVector(checkpoint, prefix + "layer_norm2.bias", d);
  layer.fc1 = LoadLinear(checkpoint, prefix + "mlp.fc1", c.intermediate_size, d, true, dtype);
  layer.fc2 = LoadLinear(checkpoint, prefix + "mlp.fc2", d, c.intermediate_size, true, dtype);
  return layer;
}

}  // namespace

void CheckActivation(const std::string& name, const std::string& where) {
  Check(name == "gelu" || name == "gelu_pytorch_tanh" || name == "gelu_new" ||
            name == "quick_gelu" || name == "silu",
        where, " '", name,
        "' is not supported (supported: gelu, gelu_pytorch_tanh, gelu_new, quick_gelu, silu)");
}

void ApplyActivation(const std::string& name, float* x, int64_t n) {
  if (name == "gelu") return ops::Gelu(x, n);
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return ops::GeluTanh(x, n);
  if (name == "quick_gelu") return ops::QuickGelu(x, n);
  if (name == "silu") return ops::Silu(x, n);
  CheckActivation(name, "activation");
}

ClipVisionConfig ReadClipVisionConfig(const JsonFile& config, const std::string& prefix) {
  ClipVisionConfig c;
  auto read = [&](const char* name, int64_t& field) {
    field = config.GetOr<int64_t>(prefix + name, field);
    Check(field > 0, config.path(), ": ", prefix, name, " must be positive, got ", field);
  };
  read("hidden_size", c.hidden_size);
  read("intermediate_size", c.intermediate_size);
  read("num_hidden_layers", c.num_layers);
  read("num_attention_heads", c.num_heads);
  read("num_channels", c.num_channels);
  read("image_size", c.image_size);
  read("patch_size", c.patch_size);
  c.hidden_act = config.GetOr<std::string>(prefix + "hidden_act", c.hidden_act);
  c.layer_norm_eps = config.GetOr<double>(prefix + "layer_norm_eps", c.layer_norm_eps);
  CheckActivation(c.hidden_act, config.path() + ": " + prefix + "hidden_act");
  Check(c.hidden_size % c.num_heads == 0, config.path(), ": ", prefix, "num_attention_heads (",
        c.num_heads, ") does not divide ", prefix, "hidden_size (", c.hidden_size, ")");
  Check(c.image_size % c.patch_size == 0, config.path(), ": ", prefix, "patch_size (", c.patch_size,
        ") does not divide ", prefix, "image_size (", c.image_size, ")");
  return c;
}

ClipVisionTower::ClipVisionTower(const ClipVisionConfig& config, const Checkpoint& checkpoint,
                                 const std::string& prefix, int64_t layers_used, DType weight_dtype)
    : config_(config) {
  const ClipVisionConfig& c = config_;
  Check(layers_used >= 0 && layers_used <= c.num_layers, "vision tower: cannot use ", layers_used,
        " of its ", c.num_layers, " layers");
  // The convolution weight [hidden, channels, patch, patch] is a Linear over flattened patches.
  patch_embedding_.weight =
      checkpoint.LoadF32(prefix + "embeddings.patch_embedding.weight",
                         {c.hidden_size, c.num_channels, c.patch_size, c.patch_size});
  patch_embedding_.weight.Reshape({c.hidden_size, c.num_channels * c.patch_size * c.patch_size});
  class_embedding_ = LoadVector(checkpoint, prefix + "embeddings.class_embedding", c.hidden_size);
  position_embedding_ = checkpoint.LoadF32(prefix + "embeddings.position_embedding.weight",
                                           {1 + c.num_patches(), c.hidden_size});
  // "pre_layrnorm" is how transformers spells it.
  pre_norm_weight_ = LoadVector(checkpoint, prefix + "pre_layrnorm.weight", c.hidden_size);
  pre_norm_bias_ = LoadVector(checkpoint, prefix + "pre_layrnorm.bias", c.hidden_size);
  for (int64_t i = 0; i < layers_used; ++i) {
    layers_.push_back(
        LoadLayer(c, checkpoint, StrCat(prefix, "encoder.layers.", i, "."), weight_dtype));
  }
}

void ClipVisionTower::Embed(ThreadPool& pool, const Tensor& pixels, float* out) const {
  const ClipVisionConfig& c = config_;
  const int64_t grid = c.grid_size(), p = c.patch_size, d = c.hidden_size;
  Check(pixels.shape() == Shape{c.num_channels, c.image_size, c.image_size},
        "vision tower: pixel values have shape ", ShapeToString(pixels.shape()), ", expected ",
        ShapeToString({c.num_channels, c.image_size, c.image_size}));
  // Gather each patch as one row [channels * p * p] in the weight's (channel, y, x) order.
  Tensor patches(DType::kF32, {c.num_patches(), c.num_channels * p * p});
  const float* in = pixels.f32();
  float* row = patches.f32();
  for (int64_t gy = 0; gy < grid; ++gy)
    for (int64_t gx = 0; gx < grid; ++gx)
      for (int64_t ch = 0; ch < c.num_channels; ++ch)
        for (int64_t y = 0; y < p; ++y, row += p)
          std::memcpy(row, in + (ch * c.image_size + gy * p + y) * c.image_size + gx * p,
                      p * sizeof(float));
  std::memcpy(out, class_embedding_.f32(), d * sizeof(float));
  patch_embedding_.Forward(pool, patches.f32(), c.num_patches(), out + d);
  ops::Add(pool, out, position_embedding_.f32(), (1 + c.num_patches()) * d);
}

Tensor ClipVisionTower::Forward(ThreadPool& pool, const Tensor& pixels) const {
  const ClipVisionConfig& c = config_;
  const int64_t n = 1 + c.num_patches();
  Tensor hidden(DType::kF32, {n, c.hidden_size});
  Embed(pool, pixels, hidden.f32());
  ops::LayerNorm(pool, hidden.f32(), pre_norm_weight_.f32(), pre_norm_bias_.f32(), n, c.hidden_size,
                 static_cast<float>(c.layer_norm_eps), hidden.f32());
  for (const ClipEncoderLayer& layer : layers_) ForwardLayer(pool, layer, hidden);
  return hidden;
}

void ClipVisionTower::ForwardLayer(ThreadPool& pool, const ClipEncoderLayer& layer,
                                   Tensor& hidden) const {
  const ClipVisionConfig& c = config_;
  const int64_t n = hidden.dim(0), d = c.hidden_size;
  const auto eps = static_cast<float>(c.layer_norm_eps);
  float* x = hidden.f32();

  Tensor normed(DType::kF32, {n, d});
  ops::LayerNorm(pool, x, layer.layer_norm1_weight.f32(), layer.layer_norm1_bias.f32(), n, d, eps,
                 normed.f32());
  Tensor q(DType::kF32, {n, d}), k(DType::kF32, {n, d}), v(DType::kF32, {n, d});
  layer.q_proj.Forward(pool, normed.f32(), n, q.f32());
  layer.k_proj.Forward(pool, normed.f32(), n, k.f32());
  layer.v_proj.Forward(pool, normed.f32(), n, v.f32());
  const int64_t head_dim = d / c.num_heads;
  const ops::AttentionShape shape{c.num_heads, c.num_heads, head_dim,
                                  1.0f / std::sqrt(static_cast<float>(head_dim))};
  ops::Attention(pool, q.f32(), nullptr, n, k.f32(), v.f32(), nullptr, n, shape,
                 /*causal=*/false, normed.f32());
  layer.out_proj.Forward(pool, normed.f32(), n, q.f32());
  ops::Add(pool, x, q.f32(), n * d);

  ops::LayerNorm(pool, x, layer.layer_norm2_weight.f32(), layer.layer_norm2_bias.f32(), n, d, eps,
                 normed.f32());
  Tensor intermediate(DType::kF32, {n, c.intermediate_size});
  layer.fc1.Forward(pool, normed.f32(), n, intermediate.f32());
  ApplyActivation(c.hidden_act, intermediate.f32(), n * c.intermediate_size);
  layer.fc2.Forward(pool, intermediate.f32(), n, q.f32());
  ops::Add(pool, x, q.f32(), n * d);
}

}  // namespace lightvlm
