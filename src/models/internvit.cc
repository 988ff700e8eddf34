#include "models/internvit.h"

#include <cstring>

#include "base/error.h"
#include "models/position_interpolation.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

// Loads `name` of shape `stored` as the float32 tensor `shape` (the same elements).
Tensor LoadReshaped(const TensorSource& weights, const std::string& name, const Shape& stored,
                    const Shape& shape) {
  Tensor tensor = weights.LoadF32(name, stored);
  tensor.Reshape(shape);
  return tensor;
}

int64_t CheckedLayersUsed(const InternViTConfig& c) {
  Check(c.layers_used >= 0 && c.layers_used <= c.num_layers, "InternViT: cannot use ",
        c.layers_used, " of its ", c.num_layers, " layers");
  return c.layers_used;
}

}  // namespace

InternViT::InternViT(const InternViTConfig& config, const TensorSource& weights,
                     const InternViTTensorNames& names, DType weight_dtype)
    : config_(config),
      patch_embedding_(LoadPatchEmbedding(weights, names.patch_embedding,
                                          config.encoder.hidden_size, config.num_channels,
                                          config.patch_size, /*has_bias=*/true)),
      class_embedding_(LoadReshaped(weights, names.class_embedding,
                                    {1, 1, config.encoder.hidden_size},
                                    {config.encoder.hidden_size})),
      position_embedding_(LoadReshaped(
          weights, names.position_embedding,
          {1, 1 + config.position_grid() * config.position_grid(), config.encoder.hidden_size},
          {1 + config.position_grid() * config.position_grid(), config.encoder.hidden_size})),
      encoder_(config.encoder, weights, names.layers, names.layer, CheckedLayersUsed(config),
               weight_dtype) {
  if (config_.final_layer_norm) {
    const int64_t d = config_.encoder.hidden_size;
    final_norm_weight_ = weights.LoadF32(names.final_layer_norm + ".weight", {d});
    final_norm_bias_ = weights.LoadF32(names.final_layer_norm + ".bias", {d});
  }
}

Tensor InternViT::Forward(ThreadPool& pool, const Tensor& pixels,
                          std::vector<float>* class_attention) const {
  const InternViTConfig& c = config_;
  const int64_t d = c.encoder.hidden_size, p = c.patch_size;
  Check(pixels.shape().size() == 3, "InternViT: pixel values have shape ",
        ShapeToString(pixels.shape()), ", expected [channels, height, width]");
  const int64_t rows = pixels.dim(1) / p, columns = pixels.dim(2) / p;
  const int64_t n = 1 + rows * columns;
  Tensor hidden(DType::kF32, {n, d});
  std::memcpy(hidden.f32(), class_embedding_.f32(), d * sizeof(float));
  patch_embedding_.Forward(pool, pixels, hidden.f32() + d);

  const int64_t grid = c.position_grid();
  const float* class_position = position_embedding_.f32();
  ops::Add(pool, hidden.f32(), class_position, d);
  if (rows == grid && columns == grid) {
    ops::Add(pool, hidden.f32() + d, class_position + d, rows * columns * d);
  } else {
    const Tensor positions =
        InterpolatePositionGrid(class_position + d, grid, grid, d, rows, columns);
    ops::Add(pool, hidden.f32() + d, positions.f32(), rows * columns * d);
  }

  encoder_.Forward(pool, hidden, class_attention);
  if (c.final_layer_norm) {
    ops::LayerNorm(pool, hidden.f32(), final_norm_weight_.f32(), final_norm_bias_.f32(), n, d,
                   static_cast<float>(c.encoder.norm_eps), hidden.f32());
  }
  return hidden;
}

}  // namespace lightvlm
