#include "models/vit_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <span>
#include <vector>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

// The attention each of the n rows receives from all n rows, averaged over rows and heads (it sums
// to 1). The rows go in chunks, so at most kChunk x heads x n probabilities are held at once.
std::vector<float> ReceivedAttention(ThreadPool& pool, const float* q, const float* k,
                                     const float* v, int64_t n, const ops::AttentionShape& shape) {
  constexpr int64_t kChunk = 64;
  const int64_t d = shape.num_heads * shape.head_dim;
  std::vector<double> received(n, 0.0);
  std::vector<int64_t> rows;
  std::vector<float> probabilities, out;
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    rows.resize(count);
    std::iota(rows.begin(), rows.end(), 0);
    probabilities.resize(count * shape.num_heads * n);
    out.resize(count * d);
    ops::Attention(pool, q + first * d, nullptr, count, k, v, nullptr, n, shape,
                   /*causal=*/false, out.data(), rows, probabilities.data());
    for (int64_t row_head = 0; row_head < count * shape.num_heads; ++row_head) {
      for (int64_t j = 0; j < n; ++j) received[j] += probabilities[row_head * n + j];
    }
  }
  std::vector<float> mean(n);
  for (int64_t j = 0; j < n; ++j) {
    mean[j] = static_cast<float>(received[j] / static_cast<double>(n * shape.num_heads));
  }
  return mean;
}

VitNorm LoadNorm(const VitEncoderConfig& c, const TensorSource& weights,
                 const std::string& prefix) {
  VitNorm norm;
  norm.weight = weights.LoadF32(prefix + ".weight", {c.hidden_size});
  if (c.norm_type == VitNormType::kLayerNorm) {
    norm.bias = weights.LoadF32(prefix + ".bias", {c.hidden_size});
  }
  return norm;
}

void ApplyNorm(ThreadPool& pool, const VitEncoderConfig& c, const VitNorm& norm, const float* x,
               int64_t rows, float* y) {
  const auto eps = static_cast<float>(c.norm_eps);
  if (c.norm_type == VitNormType::kRmsNorm) {
    return ops::RmsNorm(pool, x, norm.weight.f32(), rows, c.hidden_size, eps, y);
  }
  ops::LayerNorm(pool, x, norm.weight.f32(), norm.bias.f32(), rows, c.hidden_size, eps, y);
}

// The fused projection's rows [part * hidden, (part + 1) * hidden) as a Linear.
Linear FusedPart(const Tensor& weight, const Tensor& bias, int64_t part, int64_t hidden,
                 DType dtype) {
  Tensor rows(DType::kF32, {hidden, weight.dim(1)});
  std::memcpy(rows.f32(), weight.f32() + part * hidden * weight.dim(1), rows.num_bytes());
  Linear linear = LinearFromF32(std::move(rows), dtype);
  if (bias.num_elements()) {
    linear.bias = Tensor(DType::kF32, {hidden});
    std::memcpy(linear.bias.f32(), bias.f32() + part * hidden, hidden * sizeof(float));
  }
  return linear;
}

VitEncoderLayer LoadLayer(const VitEncoderConfig& c, const TensorSource& weights,
                          const std::string& prefix, const VitLayerTensorNames& names,
                          DType dtype) {
  const int64_t d = c.hidden_size;
  VitEncoderLayer layer;
  layer.norm1 = LoadNorm(c, weights, prefix + names.norm1);
  if (names.qkv.empty()) {
    layer.q_proj = LoadLinear(weights, prefix + names.q, d, d, c.attention_bias, dtype);
    layer.k_proj = LoadLinear(weights, prefix + names.k, d, d, c.attention_bias, dtype);
    layer.v_proj = LoadLinear(weights, prefix + names.v, d, d, c.attention_bias, dtype);
  } else {
    const Tensor weight = weights.LoadF32(prefix + names.qkv + ".weight", {3 * d, d});
    const Tensor bias =
        c.attention_bias ? weights.LoadF32(prefix + names.qkv + ".bias", {3 * d}) : Tensor();
    layer.q_proj = FusedPart(weight, bias, 0, d, dtype);
    layer.k_proj = FusedPart(weight, bias, 1, d, dtype);
    layer.v_proj = FusedPart(weight, bias, 2, d, dtype);
  }
  if (c.qk_norm) {
    layer.q_norm_weight = weights.LoadF32(prefix + names.q_norm + ".weight", {d});
    layer.k_norm_weight = weights.LoadF32(prefix + names.k_norm + ".weight", {d});
  }
  layer.out_proj = LoadLinear(weights, prefix + names.out, d, d, true, dtype);
  if (c.layer_scale) {
    layer.layer_scale1 = weights.LoadF32(prefix + names.layer_scale1, {d});
    layer.layer_scale2 = weights.LoadF32(prefix + names.layer_scale2, {d});
  }
  layer.norm2 = LoadNorm(c, weights, prefix + names.norm2);
  layer.fc1 = LoadLinear(weights, prefix + names.fc1, c.intermediate_size, d, true, dtype);
  if (c.gated_mlp) {
    layer.gate = LoadLinear(weights, prefix + names.gate, c.intermediate_size, d, true, dtype);
  }
  layer.fc2 = LoadLinear(weights, prefix + names.fc2, d, c.intermediate_size, true, dtype);
  return layer;
}

// x += delta, each row's channels scaled by `scale` [dim] first when it is not empty.
void AddBranch(ThreadPool& pool, float* x, float* delta, const Tensor& scale, int64_t rows,
               int64_t dim) {
  if (scale.num_elements()) {
    const float* s = scale.f32();
    for (int64_t r = 0; r < rows; ++r) {
      float* row = delta + r * dim;
      for (int64_t j = 0; j < dim; ++j) row[j] *= s[j];
    }
  }
  ops::Add(pool, x, delta, rows * dim);
}

}  // namespace

void CheckVitEncoderConfig(const VitEncoderConfig& c, const std::string& where) {
  Check(c.hidden_size > 0 && c.intermediate_size > 0 && c.num_heads > 0, where,
        "hidden_size, intermediate_size and num_attention_heads must be positive, got ",
        c.hidden_size, ", ", c.intermediate_size, ", ", c.num_heads);
  Check(c.hidden_size % c.num_heads == 0, where, "num_attention_heads (", c.num_heads,
        ") does not divide hidden_size (", c.hidden_size, ")");
  CheckActivation(c.hidden_act, where + "hidden_act");
}

VitEncoder::VitEncoder(const VitEncoderConfig& config, const TensorSource& weights,
                       const std::string& layers_prefix, const VitLayerTensorNames& names,
                       int64_t num_layers, DType weight_dtype)
    : config_(config) {
  for (int64_t i = 0; i < num_layers; ++i) {
    layers_.push_back(
        LoadLayer(config_, weights, StrCat(layers_prefix, i, "."), names, weight_dtype));
  }
}

void VitEncoder::Forward(ThreadPool& pool, Tensor& hidden, std::vector<float>* saliency,
                         VitSaliency kind) const {
  if (saliency != nullptr) saliency->clear();  // no layers: no attention
  for (size_t i = 0; i < layers_.size(); ++i) {
    ForwardLayer(pool, layers_[i], hidden, i + 1 == layers_.size() ? saliency : nullptr, kind,
                 nullptr, {});
  }
}

void VitEncoder::Forward(ThreadPool& pool, Tensor& hidden, const VitAttentionLayout& layout) const {
  const int64_t n = hidden.dim(0), head_dim = config_.hidden_size / config_.num_heads;
  Check(layout.rotary_positions.empty() ||
            (layout.rotary_axes > 0 &&
             static_cast<int64_t>(layout.rotary_positions.size()) == n * layout.rotary_axes &&
             layout.rotary_inv_freq.size() == layout.rotary_axis.size() &&
             2 * static_cast<int64_t>(layout.rotary_inv_freq.size()) <= head_dim),
        "vision encoder: rotary positions for ", layout.rotary_positions.size(), " ids (",
        layout.rotary_axes, " a row) and ", layout.rotary_inv_freq.size(),
        " frequencies do not fit ", n, " rows of head_dim ", head_dim);
  for (const std::vector<int64_t>& blocks : layout.layer_blocks) {
    Check(blocks.empty() || (blocks.front() == 0 && blocks.back() == n &&
                             std::is_sorted(blocks.begin(), blocks.end())),
          "vision encoder: attention blocks must be ascending boundaries from 0 to ", n);
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::span<const int64_t> blocks = i < layout.layer_blocks.size()
                                                ? std::span<const int64_t>(layout.layer_blocks[i])
                                                : std::span<const int64_t>();
    ForwardLayer(pool, layers_[i], hidden, nullptr, VitSaliency::kClassToken, &layout, blocks);
  }
}

void VitEncoder::ForwardLayer(ThreadPool& pool, const VitEncoderLayer& layer, Tensor& hidden,
                              std::vector<float>* saliency, VitSaliency kind,
                              const VitAttentionLayout* layout,
                              std::span<const int64_t> blocks) const {
  const VitEncoderConfig& c = config_;
  const int64_t n = hidden.dim(0), d = c.hidden_size;
  float* x = hidden.f32();

  Tensor normed(DType::kF32, {n, d});
  ApplyNorm(pool, c, layer.norm1, x, n, normed.f32());
  Tensor q(DType::kF32, {n, d}), k(DType::kF32, {n, d}), v(DType::kF32, {n, d});
  layer.q_proj.Forward(pool, normed.f32(), n, q.f32());
  layer.k_proj.Forward(pool, normed.f32(), n, k.f32());
  layer.v_proj.Forward(pool, normed.f32(), n, v.f32());
  if (c.qk_norm) {
    const auto eps = static_cast<float>(c.qk_norm_eps);
    ops::RmsNorm(pool, q.f32(), layer.q_norm_weight.f32(), n, d, eps, q.f32());
    ops::RmsNorm(pool, k.f32(), layer.k_norm_weight.f32(), n, d, eps, k.f32());
  }
  const int64_t head_dim = d / c.num_heads;
  if (layout != nullptr && !layout->rotary_positions.empty()) {
    for (Tensor* x_rotated : {&q, &k}) {
      ops::ApplyMultiAxisRope(pool, x_rotated->f32(), n, c.num_heads, head_dim,
                              layout->rotary_positions.data(), layout->rotary_axes,
                              layout->rotary_axis, layout->rotary_inv_freq);
    }
  }
  const ops::AttentionShape shape{c.num_heads, c.num_heads, head_dim,
                                  1.0f / std::sqrt(static_cast<float>(head_dim))};
  // Each block of rows attends among itself (a window, or one image of several).
  for (size_t b = 0; b + 1 < blocks.size(); ++b) {
    const int64_t first = blocks[b], rows = blocks[b + 1] - blocks[b];
    if (rows == 0) continue;
    ops::Attention(pool, q.f32() + first * d, nullptr, rows, k.f32() + first * d,
                   v.f32() + first * d, nullptr, rows, shape, /*causal=*/false,
                   normed.f32() + first * d, {}, nullptr);
  }
  const bool class_token = saliency != nullptr && kind == VitSaliency::kClassToken;
  const int64_t class_row = 0;
  std::vector<float> scores(class_token ? c.num_heads * n : 0);
  if (blocks.size() < 2) {
    ops::Attention(
        pool, q.f32(), nullptr, n, k.f32(), v.f32(), nullptr, n, shape,
        /*causal=*/false, normed.f32(),
        class_token ? std::span<const int64_t>(&class_row, 1) : std::span<const int64_t>(),
        scores.data());
  }
  if (class_token) {
    saliency->assign(n, 0.0f);
    for (int64_t h = 0; h < c.num_heads; ++h) {
      for (int64_t j = 0; j < n; ++j) (*saliency)[j] += scores[h * n + j] / c.num_heads;
    }
  } else if (saliency != nullptr) {
    Check(blocks.size() < 2, "vision encoder: the attention received is not defined over blocks");
    *saliency = ReceivedAttention(pool, q.f32(), k.f32(), v.f32(), n, shape);
  }
  layer.out_proj.Forward(pool, normed.f32(), n, q.f32());
  AddBranch(pool, x, q.f32(), layer.layer_scale1, n, d);

  ApplyNorm(pool, c, layer.norm2, x, n, normed.f32());
  Tensor intermediate(DType::kF32, {n, c.intermediate_size});
  layer.fc1.Forward(pool, normed.f32(), n, intermediate.f32());
  if (c.gated_mlp) {
    Tensor gate(DType::kF32, {n, c.intermediate_size});
    layer.gate.Forward(pool, normed.f32(), n, gate.f32());
    if (c.hidden_act == "silu") {
      ops::SiluMul(pool, gate.f32(), intermediate.f32(), n * c.intermediate_size);
    } else {
      ApplyActivation(pool, c.hidden_act, gate.f32(), n * c.intermediate_size);
      for (int64_t i = 0; i < n * c.intermediate_size; ++i) gate.f32()[i] *= intermediate.f32()[i];
    }
    intermediate = std::move(gate);
  } else {
    ApplyActivation(pool, c.hidden_act, intermediate.f32(), n * c.intermediate_size);
  }
  layer.fc2.Forward(pool, intermediate.f32(), n, q.f32());
  AddBranch(pool, x, q.f32(), layer.layer_scale2, n, d);
}

PatchEmbedding LoadPatchEmbedding(const TensorSource& weights, const std::string& prefix,
                                  int64_t hidden, int64_t channels, int64_t patch, bool has_bias) {
  PatchEmbedding embedding;
  embedding.channels = channels;
  embedding.patch = patch;
  embedding.projection.weight =
      weights.LoadF32(prefix + ".weight", {hidden, channels, patch, patch});
  embedding.projection.weight.Reshape({hidden, channels * patch * patch});
  if (has_bias) embedding.projection.bias = weights.LoadF32(prefix + ".bias", {hidden});
  return embedding;
}

void PatchEmbedding::Forward(ThreadPool& pool, const Tensor& pixels, float* out) const {
  const int64_t p = patch;
  Check(pixels.shape().size() == 3 && pixels.dim(0) == channels && pixels.dim(1) > 0 &&
            pixels.dim(2) > 0 && pixels.dim(1) % p == 0 && pixels.dim(2) % p == 0,
        "vision tower: pixel values have shape ", ShapeToString(pixels.shape()), ", expected [",
        channels, ", height, width] with height and width multiples of the patch size ", p);
  const int64_t height = pixels.dim(1), width = pixels.dim(2);
  const int64_t rows = height / p, columns = width / p;
  // Gather each patch as one row [channels * p * p] in the weight's (channel, y, x) order.
  Tensor patches(DType::kF32, {rows * columns, channels * p * p});
  const float* in = pixels.f32();
  float* row = patches.f32();
  for (int64_t gy = 0; gy < rows; ++gy)
    for (int64_t gx = 0; gx < columns; ++gx)
      for (int64_t ch = 0; ch < channels; ++ch)
        for (int64_t y = 0; y < p; ++y, row += p)
          std::memcpy(row, in + (ch * height + gy * p + y) * width + gx * p, p * sizeof(float));
  projection.Forward(pool, patches.f32(), rows * columns, out);
}

}  // namespace lightvlm
