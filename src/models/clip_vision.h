// The CLIP vision transformer (as LLaVA uses it): patch embedding, class token, learned
// positions, a pre-LayerNorm, then pre-norm encoder layers. Built from the vision_config of a
// checkpoint; its output is the hidden state of a chosen layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/linear.h"

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

struct ClipEncoderLayer {
  Tensor layer_norm1_weight, layer_norm1_bias;  // [hidden]
  Linear q_proj, k_proj, v_proj, out_proj;      // [hidden, hidden] with bias
  Tensor layer_norm2_weight, layer_norm2_bias;  // [hidden]
  Linear fc1;                                   // [intermediate, hidden]
  Linear fc2;                                   // [hidden, intermediate]
};

class ClipVisionTower {
 public:
  // `prefix` names the vision model in the checkpoint, e.g. "vision_tower.vision_model.".
  // Only the first `layers_used` encoder layers are loaded and run; their matrices are held in
  // `weight_dtype` (F32, BF16 or I8).
  ClipVisionTower(const ClipVisionConfig& config, const Checkpoint& checkpoint,
                  const std::string& prefix, int64_t layers_used, DType weight_dtype = DType::kF32);

  const ClipVisionConfig& config() const { return config_; }

  // pixels [3, image_size, image_size] -> hidden state after `layers_used` layers,
  // [1 + num_patches, hidden], the class token first.
  Tensor Forward(ThreadPool& pool, const Tensor& pixels) const;

 private:
  void Embed(ThreadPool& pool, const Tensor& pixels, float* out) const;
  void ForwardLayer(ThreadPool& pool, const ClipEncoderLayer& layer, Tensor& hidden) const;

  ClipVisionConfig config_;
  Linear patch_embedding_;                  // [hidden, channels * patch * patch], no bias
  Tensor class_embedding_;                  // [hidden]
  Tensor position_embedding_;               // [1 + num_patches, hidden]
  Tensor pre_norm_weight_, pre_norm_bias_;  // [hidden]
  std::vector<ClipEncoderLayer> layers_;
};

// Applies a transformers activation by its config name (gelu, gelu_pytorch_tanh, quick_gelu,
// silu) in place; fails naming the activation when it is unknown.
void ApplyActivation(const std::string& name, float* x, int64_t n);
void CheckActivation(const std::string& name, const std::string& where);

}  // namespace lightvlm
