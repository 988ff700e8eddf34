// The SigLIP vision transformer as Idefics3 and SmolVLM use it: a patch embedding with bias, no
// class token, learned positions looked up by bucketing each patch's fractional coordinates into
// the table's grid (the NaViT scheme of transformers' Idefics3VisionEmbeddings), the shared
// pre-norm encoder (models/vit_encoder.h, LayerNorm, GELU-tanh by default) and a post-LayerNorm.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/json_file.h"
#include "io/tensor_source.h"
#include "models/vit_encoder.h"

namespace lightvlm {

struct SiglipVisionConfig {
  VitEncoderConfig encoder;
  int64_t num_layers = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;  // the position table covers image_size / patch_size patches a side
  int64_t patch_size = 32;

  int64_t position_side() const { return image_size / patch_size; }
};

// The fields under `prefix` ("vision_config."), absent ones taking the defaults that
// Idefics3VisionConfig and SmolVLMVisionConfig share; errors name the file and the field.
SiglipVisionConfig ReadSiglipVisionConfig(const JsonFile& config, const std::string& prefix);

// The position-table row of every patch of a rows x columns patch grid, row by row, as
// transformers computes it: boundaries torch.arange(1/side, 1, 1/side) in float32 (PyTorch's CPU
// arange, whose vectorized loop computes 8 lanes from a float32 base), fractions
// float32(i) * float32(1 / rows) clamped below 1 - 1e-6, bucketize(right=True). A grid of the
// table's size maps to 0, 1, 2, ... for every side up to 18, and for 26 and 32 (real checkpoints).
std::vector<int64_t> SiglipPositionIds(int64_t side, int64_t rows, int64_t columns);

class SiglipVisionTower {
 public:
  // `prefix` names the vision model ("model.vision_model."); matrices in `weight_dtype`.
  SiglipVisionTower(const SiglipVisionConfig& config, const TensorSource& weights,
                    const std::string& prefix, DType weight_dtype = DType::kF32);

  const SiglipVisionConfig& config() const { return config_; }

  // pixels [channels, height, width] -> the post-normed last hidden state [(height / patch) *
  // (width / patch), hidden], patches row by row; pixels past the last whole patch are unused
  // (the convolution's "valid" padding). With `saliency`, also the attention each patch receives
  // in the last layer, averaged over patches and heads [patches] (VisionZip's ranking for a tower
  // without a class token).
  Tensor Forward(ThreadPool& pool, const Tensor& pixels,
                 std::vector<float>* saliency = nullptr) const;

 private:
  SiglipVisionConfig config_;
  PatchEmbedding patch_embedding_;  // with bias
  Tensor position_embedding_;       // [side * side, hidden]
  VitEncoder encoder_;
  Tensor post_norm_weight_, post_norm_bias_;  // [hidden]
};

}  // namespace lightvlm
