#include "models/internvl_vision.h"

#include <cstring>
#include <vector>

#include "base/error.h"
#include "models/activation.h"
#include "models/pixel_shuffle.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

// downsample_ratio 0.5, the only one CheckDownsampleRatio accepts (internvl_vision_config.cc): 2x2
// patches per image token.
constexpr int64_t kShuffleScale = 2;

constexpr float kProjectorNormEps = 1e-5f;  // nn.LayerNorm's default, in both implementations

InternVLProjector LoadProjector(const InternVLVisionConfig& c, const TensorSource& weights,
                                const InternVLVisionLayout& layout, DType dtype) {
  const int64_t in = 4 * c.vision.encoder.hidden_size, out = c.text_hidden_size;
  InternVLProjector projector;
  projector.norm_weight = weights.LoadF32(layout.projector_norm + ".weight", {in});
  projector.norm_bias = weights.LoadF32(layout.projector_norm + ".bias", {in});
  projector.linear_in = LoadLinear(weights, layout.projector_in, out, in, true, dtype);
  projector.linear_out = LoadLinear(weights, layout.projector_out, out, out, true, dtype);
  projector.act = c.projector_act;
  return projector;
}

// Appends, for each token of the pixel shuffle's output (pixel_shuffle.h), the summed
// class-token attention of its 2x2 patches; `class_attention` [1 + rows * columns] starts with the
// class token's own.
void AppendShuffledSaliency(const std::vector<float>& class_attention, int64_t rows,
                            int64_t columns, std::vector<float>& saliency) {
  const float* patches = class_attention.data() + 1;
  for (int64_t r = 0; r + 1 < rows; r += 2) {
    for (int64_t c = 0; c + 1 < columns; c += 2) {
      saliency.push_back(patches[r * columns + c] + patches[r * columns + c + 1] +
                         patches[(r + 1) * columns + c] + patches[(r + 1) * columns + c + 1]);
    }
  }
}

}  // namespace

Tensor InternVLProjector::Forward(ThreadPool& pool, const Tensor& features) const {
  const int64_t rows = features.dim(0), in = linear_in.in_features();
  const int64_t out = linear_out.out_features();
  Check(features.shape() == Shape{rows, in}, "InternVL projector: features have shape ",
        ShapeToString(features.shape()), ", expected [rows, ", in, "]");
  Tensor normed(DType::kF32, {rows, in});
  ops::LayerNorm(pool, features.f32(), norm_weight.f32(), norm_bias.f32(), rows, in,
                 kProjectorNormEps, normed.f32());
  Tensor hidden(DType::kF32, {rows, out});
  linear_in.Forward(pool, normed.f32(), rows, hidden.f32());
  ApplyActivation(pool, act, hidden.f32(), hidden.num_elements());
  Tensor projected(DType::kF32, {rows, out});
  linear_out.Forward(pool, hidden.f32(), rows, projected.f32());
  return projected;
}

InternVLVisionEncoder::InternVLVisionEncoder(const InternVLVisionConfig& config,
                                             const TensorSource& weights,
                                             const InternVLVisionLayout& layout, DType weight_dtype)
    : config_(config),
      tower_(config.vision, weights, layout.vision, weight_dtype),
      projector_(LoadProjector(config, weights, layout, weight_dtype)) {}

Tensor InternVLVisionEncoder::Encode(ThreadPool& pool, const InternVLPixelValues& pixels,
                                     std::vector<float>* saliency) const {
  Check(!pixels.tiles.empty(), "InternVL vision encoder: the image has no tiles");
  const Shape& tile_shape = pixels.tiles.front().shape();
  const int64_t d = config_.vision.encoder.hidden_size;
  const auto tiles = static_cast<int64_t>(pixels.tiles.size());
  Tensor patches;  // [tiles, patch tokens, hidden], the class tokens dropped
  if (saliency != nullptr) saliency->clear();
  std::vector<float> class_attention;
  for (int64_t t = 0; t < tiles; ++t) {
    const Tensor& tile = pixels.tiles[t];
    Check(tile.shape() == tile_shape, "InternVL vision encoder: tile ", t, " has shape ",
          ShapeToString(tile.shape()), ", tile 0 ", ShapeToString(tile_shape));
    const Tensor hidden =
        tower_.Forward(pool, tile, saliency != nullptr ? &class_attention : nullptr);
    const int64_t tokens = hidden.dim(0) - 1;
    if (t == 0) patches = Tensor(DType::kF32, {tiles, tokens, d});
    std::memcpy(patches.f32() + t * tokens * d, hidden.f32() + d, tokens * d * sizeof(float));
    if (saliency != nullptr && !class_attention.empty()) {  // empty when no layer runs
      const int64_t patch = config_.vision.patch_size;
      AppendShuffledSaliency(class_attention, tile.dim(1) / patch, tile.dim(2) / patch, *saliency);
    }
  }
  Tensor shuffled = PixelShuffle(patches, kShuffleScale);  // [tiles, tokens / 4, 4 * hidden]
  shuffled.Reshape({shuffled.dim(0) * shuffled.dim(1), shuffled.dim(2)});
  return projector_.Forward(pool, shuffled);
}

}  // namespace lightvlm
