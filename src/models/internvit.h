// InternViT, InternVL's vision tower: a patch embedding with bias, a class token and learned
// positions (resized bicubically when a tile's patch grid is not the table's), then the shared
// pre-norm encoder (models/vit_encoder.h) with layer scale, LayerNorm or RMSNorm and optional
// QK-norm; no pre-norm. Its output is the hidden state after a chosen number of layers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/tensor_source.h"
#include "models/vit_encoder.h"

namespace lightvlm {

struct InternViTConfig {
  VitEncoderConfig encoder;  // always with layer_scale
  int64_t num_layers = 24;
  int64_t num_channels = 3;
  int64_t image_size = 448;  // the position table covers image_size / patch_size patches a side
  int64_t patch_size = 14;
  int64_t layers_used = 24;  // the layers run: select_layer / vision_feature_layer
  // transformers' use_mean_pooling false puts a LayerNorm after the encoder, in its
  // last_hidden_state only: set when that is the hidden state selected (vision_feature_layer -1).
  bool final_layer_norm = false;

  int64_t position_grid() const { return image_size / patch_size; }  // patches a side
};

// Tensor names of one checkpoint layout (models/internvl_vision_layout.h has the tables).
struct InternViTTensorNames {
  std::string class_embedding;     // [1, 1, hidden]
  std::string patch_embedding;     // module: .weight [hidden, channels, patch, patch], .bias
  std::string position_embedding;  // [1, 1 + grid * grid, hidden], the class token's first
  std::string layers;              // layer i's names start with layers + i + "."
  VitLayerTensorNames layer;
  std::string final_layer_norm;  // module, read when the config has final_layer_norm
};

class InternViT {
 public:
  // Loads the first config.layers_used layers, their matrices held in `weight_dtype`.
  InternViT(const InternViTConfig& config, const TensorSource& weights,
            const InternViTTensorNames& names, DType weight_dtype = DType::kF32);

  const InternViTConfig& config() const { return config_; }

  // pixels [channels, height, width] (multiples of the patch size) -> the hidden state after
  // layers_used layers, [1 + (height / patch) * (width / patch), hidden], the class token first.
  // With `class_attention`, also the last layer run's attention from the class token to each
  // row, averaged over heads [1 + patches].
  Tensor Forward(ThreadPool& pool, const Tensor& pixels,
                 std::vector<float>* class_attention = nullptr) const;

 private:
  InternViTConfig config_;
  PatchEmbedding patch_embedding_;  // [hidden, channels * patch * patch] with bias
  Tensor class_embedding_;          // [hidden]
  Tensor position_embedding_;       // [1 + grid * grid, hidden]
  VitEncoder encoder_;
  Tensor final_norm_weight_, final_norm_bias_;  // [hidden] with final_layer_norm, else empty
};

}  // namespace lightvlm
