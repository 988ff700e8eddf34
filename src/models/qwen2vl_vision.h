// The vision tower of Qwen2-VL and Qwen2.5-VL: a patch embedding over 2 frames x 14 x 14 pixels
// (a Conv3d without bias, as a Linear), the shared pre-norm encoder (models/vit_encoder.h) with 2D
// rotary positions of each patch (its row and column, models/qwen2vl_vision_positions.h) instead of
// a position table, and the patch merger: a norm, each 2x2 block of patches concatenated, a
// 2-layer GELU MLP into the LLM's width.
//   Qwen2-VL:   LayerNorm, quick-GELU MLP (mlp_ratio), full attention over the image.
//   Qwen2.5-VL: RMSNorm, SwiGLU MLP, attention within windows of window_size pixels except in the
//               fullatt_block_indexes layers; the rows are reordered window by window for that and
//               the merger's output put back in the processor's order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/json_file.h"
#include "io/tensor_source.h"
#include "models/image_grid.h"
#include "models/linear.h"
#include "models/vit_encoder.h"

namespace lightvlm {

struct Qwen2VlVisionConfig {
  bool qwen25 = false;  // Qwen2.5-VL's tower (model_type qwen2_5_vl)
  VitEncoderConfig encoder;
  int64_t depth = 0;
  int64_t in_channels = 3;
  int64_t patch_size = 14;
  int64_t temporal_patch_size = 2;
  int64_t spatial_merge_size = 2;
  int64_t out_hidden_size = 0;                 // the merger's output: the LLM's hidden size
  double rope_theta = 10000.0;                 // of the 2D rotary positions
  int64_t window_size = 0;                     // Qwen2.5-VL: a window's side in pixels
  std::vector<int64_t> fullatt_block_indexes;  // Qwen2.5-VL: the layers that attend over all rows

  int64_t patch_width() const {
    return in_channels * temporal_patch_size * patch_size * patch_size;
  }
};

// config.json's vision_config (Qwen2VLVisionConfig's or Qwen2_5_VLVisionConfig's fields, absent
// ones at their defaults) for model_type qwen2_vl or qwen2_5_vl; errors name the file and field.
Qwen2VlVisionConfig ReadQwen2VlVisionConfig(const JsonFile& config);

// Qwen2.5-VL's window attention over one image of `grid`, as transformers' get_window_index: the
// order in which the merged tokens (2x2 patch blocks) are visited, window by window (windows of
// window_size / patch / merge merged tokens a side, row-major, the last ones clipped), and the
// patch-row boundaries of the windows in that order.
struct VisionWindows {
  std::vector<int64_t> merged_order;  // [t * h * w / merge^2] merged-token index in visit order
  std::vector<int64_t> boundaries;    // {0, ..., t * h * w}, one per non-empty window
};
VisionWindows VisionWindowOrder(const ImageGridThw& grid, int64_t spatial_merge_size,
                                int64_t merged_window);

class Qwen2VlVisionTower {
 public:
  // `prefix` names the tower ("visual." or "model.visual."); matrices in `weight_dtype`.
  Qwen2VlVisionTower(const Qwen2VlVisionConfig& config, const TensorSource& weights,
                     const std::string& prefix, DType weight_dtype);

  const Qwen2VlVisionConfig& config() const { return config_; }

  // One image's patches [t * h * w, patch_width()] in the processor's row order -> its tokens
  // [t * h * w / merge^2, out_hidden_size] in the same order. Fails naming the shapes when they
  // do not fit the grid.
  Tensor Forward(ThreadPool& pool, const Tensor& patches, const ImageGridThw& grid) const;

 private:
  Qwen2VlVisionConfig config_;
  Linear patch_embed_;  // [hidden, patch_width()] without bias
  VitEncoder encoder_;
  VitNorm merger_norm_;             // ln_q over each patch's hidden (no bias with RMSNorm)
  Linear merger_fc1_, merger_fc2_;  // mlp.0 [4 hidden, 4 hidden], mlp.2 [out, 4 hidden]
};

}  // namespace lightvlm
