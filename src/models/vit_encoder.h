// The pre-norm ViT encoder that CLIP (LLaVA), InternViT (InternVL), SigLIP and Qwen2-VL share, and
// its patch embedding. Each layer is
//   x += ls1 * out(attention(qk_norm(q(norm1(x))), qk_norm(k(norm1(x))), v(norm1(x))))
//   x += ls2 * fc2(act(fc1(norm2(x))))            or, gated (SwiGLU), fc2(act(gate(.)) * fc1(.))
// where the norms are LayerNorm or RMSNorm, the layer scales ls1/ls2, the QK-norm and the gate are
// optional, all as a VitEncoderConfig says; the tensor names come from a table per checkpoint
// layout. A VitAttentionLayout adds rotary positions and block-diagonal (window) attention.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/tensor_source.h"
#include "models/activation.h"
#include "models/linear.h"

namespace lightvlm {

enum class VitNormType { kLayerNorm, kRmsNorm };

struct VitEncoderConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_heads = 0;
  std::string hidden_act = "gelu";
  VitNormType norm_type = VitNormType::kLayerNorm;
  double norm_eps = 1e-5;
  bool attention_bias = true;  // q, k and v have biases (the output projection always has one)
  // RMSNorm over the whole q and k (width hidden_size, all heads together) before attention, as
  // InternViT's q_norm/k_norm.
  bool qk_norm = false;
  double qk_norm_eps = 1e-6;
  bool layer_scale = false;  // ls1/ls2: per-channel scales of each branch before its residual add
  bool gated_mlp = false;    // the MLP is fc2(act(gate(x)) * fc1(x)) (Qwen2.5-VL's SwiGLU)
};

// Fails when the sizes are not positive, the heads do not divide the width, or the activation is
// unknown; `where` prefixes the field names ("config.json: vision_config.").
void CheckVitEncoderConfig(const VitEncoderConfig& config, const std::string& where);

// The names of one layer's tensors relative to its prefix ("encoder.layers.3."). Norms and
// linears are module names to which ".weight" (and ".bias") are appended; layer scales are
// whole tensor names.
struct VitLayerTensorNames {
  std::string norm1;
  std::string q, k, v;  // separate projections [hidden, hidden]; empty when `qkv` is used
  std::string qkv;      // fused projection [3 * hidden, hidden], rows q then k then v; or empty
  std::string q_norm, k_norm;  // read when the config has qk_norm
  std::string out;
  std::string layer_scale1, layer_scale2;  // [hidden]; read when the config has layer_scale
  std::string norm2;
  std::string fc1, fc2;
  std::string gate;  // read when the config has gated_mlp
};

struct VitNorm {
  Tensor weight;  // [hidden]
  Tensor bias;    // [hidden] for LayerNorm; empty for RMSNorm
};

struct VitEncoderLayer {
  VitNorm norm1;
  Linear q_proj, k_proj, v_proj;        // [hidden, hidden], bias as attention_bias
  Tensor q_norm_weight, k_norm_weight;  // [hidden] with qk_norm, else empty
  Linear out_proj;                      // [hidden, hidden] with bias
  Tensor layer_scale1, layer_scale2;    // [hidden] with layer_scale, else empty
  VitNorm norm2;
  Linear fc1;   // [intermediate, hidden] with bias
  Linear fc2;   // [hidden, intermediate] with bias
  Linear gate;  // [intermediate, hidden] with bias, with gated_mlp; else empty
};

// Where the rows of one forward pass are, for towers that place patches by rotary positions rather
// than by a learned table (Qwen2-VL): every head's q and k turned by each row's ids
// (ops::ApplyMultiAxisRope), and attention only among the rows of one block.
struct VitAttentionLayout {
  std::vector<int64_t> rotary_positions;  // [rows * rotary_axes]; empty: no rotary
  int64_t rotary_axes = 0;
  std::vector<int32_t> rotary_axis;    // [head_dim / 2] the axis each frequency turns by
  std::vector<float> rotary_inv_freq;  // [head_dim / 2]
  // Per layer, ascending row boundaries {0, ..., rows}: rows [b_i, b_i+1) attend among themselves
  // only. A layer without an entry (or with an empty one) attends over all rows.
  std::vector<std::vector<int64_t>> layer_blocks;
};

// Which attention of a tower's last layer ranks its tokens for VisionZip: the class token's
// (CLIP, InternViT), or, in a tower without one (SigLIP), the attention each token receives from
// all tokens, averaged: VisionZip's rule there, also VisPruner's.
enum class VitSaliency { kClassToken, kReceived };

class VitEncoder {
 public:
  // Loads layers 0 .. num_layers - 1, layer i from the tensors named
  // `layers_prefix` + i + "." + `names`; matrices are held in `weight_dtype` (F32, BF16, I8 or Q4).
  VitEncoder(const VitEncoderConfig& config, const TensorSource& weights,
             const std::string& layers_prefix, const VitLayerTensorNames& names, int64_t num_layers,
             DType weight_dtype);

  const VitEncoderConfig& config() const { return config_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

  // Runs every loaded layer over `hidden` [tokens, hidden_size] in place. With `saliency`, also
  // returns the saliency VisionZip ranks tokens by, from the last layer's attention averaged over
  // heads, [tokens]: as `kind` says, the class token's (row 0's) attention to every row, or the
  // attention each row receives averaged over all rows (towers without a class token).
  void Forward(ThreadPool& pool, Tensor& hidden, std::vector<float>* saliency = nullptr,
               VitSaliency kind = VitSaliency::kClassToken) const;
  // Runs every loaded layer with the rotary positions and attention blocks of `layout`; fails
  // when they do not fit the rows or the heads.
  void Forward(ThreadPool& pool, Tensor& hidden, const VitAttentionLayout& layout) const;

 private:
  // With `saliency` non-null, records it there as Forward describes; `blocks` as
  // VitAttentionLayout's (empty: all rows).
  void ForwardLayer(ThreadPool& pool, const VitEncoderLayer& layer, Tensor& hidden,
                    std::vector<float>* saliency, VitSaliency kind,
                    const VitAttentionLayout* layout, std::span<const int64_t> blocks) const;

  VitEncoderConfig config_;
  std::vector<VitEncoderLayer> layers_;
};

// A ViT's patch embedding: the convolution (kernel = stride = patch) as a Linear over each patch
// flattened in the weight's (channel, y, x) order.
struct PatchEmbedding {
  Linear projection;  // [hidden, channels * patch * patch] float32, bias optional
  int64_t channels = 3;
  int64_t patch = 14;

  // pixels [channels, height, width], both multiples of the patch -> out [(height / patch) *
  // (width / patch), hidden], the patches row by row. Fails naming the shapes otherwise.
  void Forward(ThreadPool& pool, const Tensor& pixels, float* out) const;
};

// `<prefix>.weight` [hidden, channels, patch, patch] (and `<prefix>.bias` [hidden]).
PatchEmbedding LoadPatchEmbedding(const TensorSource& weights, const std::string& prefix,
                                  int64_t hidden, int64_t channels, int64_t patch, bool has_bias);

}  // namespace lightvlm
