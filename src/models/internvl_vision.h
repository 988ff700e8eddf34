// InternVL's image encoder: each tile through InternViT, the class token dropped, the patch tokens
// merged 2x2 by the pixel shuffle (models/pixel_shuffle.h), then the projector
// (LayerNorm, Linear, activation, Linear) into the LLM's width. As transformers'
// InternVLModel.get_image_features and OpenGVLab's InternVLChatModel.extract_feature.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/tensor_source.h"
#include "models/internvit.h"
#include "models/internvl_image_processor.h"
#include "models/internvl_vision_config.h"
#include "models/internvl_vision_layout.h"
#include "models/linear.h"

namespace lightvlm {

struct InternVLProjector {
  Tensor norm_weight, norm_bias;  // [4 * vision hidden], nn.LayerNorm (eps 1e-5)
  Linear linear_in;               // [text hidden, 4 * vision hidden] with bias
  Linear linear_out;              // [text hidden, text hidden] with bias
  std::string act;                // between the two linears

  // features [rows, 4 * vision hidden] -> [rows, text hidden]
  Tensor Forward(ThreadPool& pool, const Tensor& features) const;
};

class InternVLVisionEncoder {
 public:
  // Loads the tower's first layers_used layers and the projector from `weights` under the
  // names of `layout` (models/internvl_vision_layout.h), matrices in `weight_dtype`.
  InternVLVisionEncoder(const InternVLVisionConfig& config, const TensorSource& weights,
                        const InternVLVisionLayout& layout, DType weight_dtype = DType::kF32);

  const InternVLVisionConfig& config() const { return config_; }
  const InternViT& tower() const { return tower_; }
  const InternVLProjector& projector() const { return projector_; }

  // One image's tiles (all of one size, e.g. config().tile_size) -> its image embeddings
  // [tiles * tokens per tile, text hidden], tile by tile in order, each tile's tokens row by
  // row over its (side / 2) x (side / 2) grid of merged patches. Fails naming the shapes when
  // the tiles differ in size or have no tiles. With `saliency`, also each image token's share
  // of its tile's class-token attention (the last layer run, averaged over heads), summed over
  // the 2x2 patches the pixel shuffle merged into it [tiles * tokens per tile].
  Tensor Encode(ThreadPool& pool, const InternVLPixelValues& pixels,
                std::vector<float>* saliency = nullptr) const;

 private:
  InternVLVisionConfig config_;
  InternViT tower_;
  InternVLProjector projector_;
};

}  // namespace lightvlm
