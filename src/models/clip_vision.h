// The CLIP vision transformer (as LLaVA uses it): patch embedding, class token, learned
// positions, a pre-LayerNorm, then the shared pre-norm encoder (models/vit_encoder.h) with
// LayerNorm and no layer scale or QK-norm. Built from the vision_config of a checkpoint; its
// output is the hidden state of a chosen layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/json_file.h"
#include "io/tensor_source.h"
#include "models/vit_encoder.h"

namespace lightvlm {

struct ClipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  std::string hidden_act = "quick_gelu";
  double layer_norm_eps = 1e-5;

  int64_t grid_size() const { return image_size / patch_size; }  // patches per side
  int64_t num_patches() const { return grid_size() * grid_size(); }
};

// Reads the fields under `prefix` (e.g. "vision_config."); absent fields take transformers'
// CLIPVisionConfig defaults, as hub checkpoints rely on them. Errors name the file and field.
ClipVisionConfig ReadClipVisionConfig(const JsonFile& config, const std::string& prefix);

// transformers' CLIPEncoderLayer tensor names, which SigLIP's encoder layers share.
VitLayerTensorNames ClipLayerNames();

class ClipVisionTower {
 public:
  // `prefix` names the vision model in the checkpoint, e.g. "vision_tower.vision_model.".
  // Only the first `layers_used` encoder layers are loaded and run; their matrices are held in
  // `weight_dtype` (F32, BF16, I8 or Q4).
  ClipVisionTower(const ClipVisionConfig& config, const TensorSource& weights,
                  const std::string& prefix, int64_t layers_used, DType weight_dtype = DType::kF32);

  const ClipVisionConfig& config() const { return config_; }

  // pixels [3, image_size, image_size] -> hidden state after `layers_used` layers,
  // [1 + num_patches, hidden], the class token first. With `class_attention`, also the last
  // layer run's attention from the class token to each row, averaged over heads [1 + num_patches].
  Tensor Forward(ThreadPool& pool, const Tensor& pixels,
                 std::vector<float>* class_attention = nullptr) const;

 private:
  ClipVisionConfig config_;
  PatchEmbedding patch_embedding_;          // [hidden, channels * patch * patch], no bias
  Tensor class_embedding_;                  // [hidden]
  Tensor position_embedding_;               // [1 + num_patches, hidden]
  Tensor pre_norm_weight_, pre_norm_bias_;  // [hidden]
  VitEncoder encoder_;
};

}  // namespace lightvlm
