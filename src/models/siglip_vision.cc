#include "models/siglip_vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "models/clip_vision.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

// PyTorch's CPU arange vectorizes over 8 float32 lanes, two vectors a step; the rest is scalar.
// (Measured: torch 2.6 on an AVX512 machine reproduces exactly this,
// tools/make_smolvlm_fixture.py.)
constexpr int64_t kArangeLanes = 8;

// torch.arange(1 / side, 1.0, 1 / side) as float32, element by element as PyTorch's CPU kernel
// computes it (in double from a float32 base within a vector, in double alone after the last).
std::vector<float> BucketBoundaries(int64_t side) {
  const double start = 1.0 / static_cast<double>(side), step = start;
  const auto count = static_cast<int64_t>(std::ceil((1.0 - start) / step));
  std::vector<float> boundaries(std::max<int64_t>(count, 0));
  const auto n = static_cast<int64_t>(boundaries.size());
  const int64_t vectorized = n / (2 * kArangeLanes) * (2 * kArangeLanes);
  for (int64_t i = 0; i < vectorized; i += kArangeLanes) {
    const auto base = static_cast<float>(start + step * static_cast<double>(i));
    for (int64_t lane = 0; lane < kArangeLanes; ++lane) {
      boundaries[i + lane] =
          static_cast<float>(static_cast<double>(base) + static_cast<double>(lane) * step);
    }
  }
  for (int64_t i = vectorized; i < n; ++i) {
    boundaries[i] = static_cast<float>(start + step * static_cast<double>(i));
  }
  return boundaries;
}

// The bucket of each of `count` patches along one side.
std::vector<int64_t> Buckets(const std::vector<float>& boundaries, int64_t count) {
  const float step = 1.0f / static_cast<float>(count);
  const auto ceiling = static_cast<float>(1.0 - 1e-6);
  std::vector<int64_t> buckets(count);
  for (int64_t i = 0; i < count; ++i) {
    const float fraction = std::min(static_cast<float>(i) * step, ceiling);
    buckets[i] =
        std::upper_bound(boundaries.begin(), boundaries.end(), fraction) - boundaries.begin();
  }
  return buckets;
}

VitEncoderConfig ReadEncoder(const JsonFile& config, const std::string& prefix) {
  VitEncoderConfig e;
  e.hidden_size = config.GetOr<int64_t>(prefix + "hidden_size", 1152);
  e.intermediate_size = config.GetOr<int64_t>(prefix + "intermediate_size", 3072);
  e.num_heads = config.GetOr<int64_t>(prefix + "num_attention_heads", 16);
  e.hidden_act = config.GetOr<std::string>(prefix + "hidden_act", "gelu_pytorch_tanh");
  e.norm_type = VitNormType::kLayerNorm;
  e.norm_eps = config.GetOr<double>(prefix + "layer_norm_eps", 1e-6);
  e.attention_bias = true;
  CheckVitEncoderConfig(e, config.path() + ": " + prefix);
  return e;
}

}  // namespace

SiglipVisionConfig ReadSiglipVisionConfig(const JsonFile& config, const std::string& prefix) {
  SiglipVisionConfig c;
  c.encoder = ReadEncoder(config, prefix);
  auto read = [&](const char* name, int64_t& field) {
    field = config.GetOr<int64_t>(prefix + name, field);
    Check(field > 0, config.path(), ": ", prefix, name, " must be positive, got ", field);
  };
  read("num_hidden_layers", c.num_layers);
  read("num_channels", c.num_channels);
  read("image_size", c.image_size);
  read("patch_size", c.patch_size);
  Check(c.patch_size <= c.image_size, config.path(), ": ", prefix, "patch_size (", c.patch_size,
        ") exceeds ", prefix, "image_size (", c.image_size, ")");
  return c;
}

std::vector<int64_t> SiglipPositionIds(int64_t side, int64_t rows, int64_t columns) {
  Check(side > 0 && rows > 0 && columns > 0, "SigLIP positions: a ", rows, "x", columns,
        " patch grid over a table of side ", side);
  const std::vector<float> boundaries = BucketBoundaries(side);
  const std::vector<int64_t> row_buckets = Buckets(boundaries, rows);
  const std::vector<int64_t> column_buckets = Buckets(boundaries, columns);
  std::vector<int64_t> ids;
  ids.reserve(rows * columns);
  for (const int64_t row : row_buckets) {
    for (const int64_t column : column_buckets) ids.push_back(row * side + column);
  }
  return ids;
}

SiglipVisionTower::SiglipVisionTower(const SiglipVisionConfig& config, const TensorSource& weights,
                                     const std::string& prefix, DType weight_dtype)
    : config_(config),
      patch_embedding_(LoadPatchEmbedding(weights, prefix + "embeddings.patch_embedding",
                                          config.encoder.hidden_size, config.num_channels,
                                          config.patch_size, /*has_bias=*/true)),
      position_embedding_(weights.LoadF32(
          prefix + "embeddings.position_embedding.weight",
          {config.position_side() * config.position_side(), config.encoder.hidden_size})),
      encoder_(config.encoder, weights, prefix + "encoder.layers.", ClipLayerNames(),
               config.num_layers, weight_dtype),
      post_norm_weight_(
          weights.LoadF32(prefix + "post_layernorm.weight", {config.encoder.hidden_size})),
      post_norm_bias_(
          weights.LoadF32(prefix + "post_layernorm.bias", {config.encoder.hidden_size})) {}

Tensor SiglipVisionTower::Forward(ThreadPool& pool, const Tensor& pixels,
                                  std::vector<float>* saliency) const {
  const SiglipVisionConfig& c = config_;
  const int64_t p = c.patch_size, d = c.encoder.hidden_size;
  Check(pixels.shape().size() == 3 && pixels.dim(0) == c.num_channels && pixels.dim(1) >= p &&
            pixels.dim(2) >= p,
        "SigLIP vision tower: pixel values have shape ", ShapeToString(pixels.shape()),
        ", expected [", c.num_channels, ", height, width] of at least one ", p, " px patch");
  const int64_t rows = pixels.dim(1) / p, columns = pixels.dim(2) / p;
  Tensor cropped;  // the whole patches only, when the sides are not multiples of the patch
  if (rows * p != pixels.dim(1) || columns * p != pixels.dim(2)) {
    cropped = Tensor(DType::kF32, {c.num_channels, rows * p, columns * p});
    for (int64_t ch = 0; ch < c.num_channels; ++ch) {
      for (int64_t y = 0; y < rows * p; ++y) {
        std::memcpy(cropped.f32() + (ch * rows * p + y) * columns * p,
                    pixels.f32() + (ch * pixels.dim(1) + y) * pixels.dim(2),
                    columns * p * sizeof(float));
      }
    }
  }
  const int64_t n = rows * columns;
  Tensor hidden(DType::kF32, {n, d});
  patch_embedding_.Forward(pool, cropped.num_elements() ? cropped : pixels, hidden.f32());
  const std::vector<int64_t> positions = SiglipPositionIds(c.position_side(), rows, columns);
  for (int64_t i = 0; i < n; ++i) {
    float* row = hidden.f32() + i * d;
    const float* position = position_embedding_.f32() + positions[i] * d;
    for (int64_t j = 0; j < d; ++j) row[j] += position[j];
  }
  encoder_.Forward(pool, hidden, saliency, VitSaliency::kReceived);
  ops::LayerNorm(pool, hidden.f32(), post_norm_weight_.f32(), post_norm_bias_.f32(), n, d,
                 static_cast<float>(c.encoder.norm_eps), hidden.f32());
  return hidden;
}

}  // namespace lightvlm
