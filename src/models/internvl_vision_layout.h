// Where an InternVL checkpoint keeps its vision tower and projector. OpenGVLab publishes
// InternVLChatModel (vision_model.*, with a fused attn.qkv, and mlp1.*); transformers'
// InternVLForConditionalGeneration saves vision_tower.* and multi_modal_projector.* (4.5x up to
// 4.51 and 5.x's default), or the same under model. (4.52 to 4.57). A checkpoint's layout is the
// one whose class-token tensor it holds.
#pragma once

#include <string>
#include <vector>

#include "io/tensor_source.h"
#include "models/internvit.h"

namespace lightvlm {

struct InternVLVisionLayout {
  std::string name;  // who writes it
  InternViTTensorNames vision;
  // The projector: LayerNorm [4 * vision hidden], Linear to the LLM's width, activation, Linear.
  std::string projector_norm, projector_in, projector_out;  // modules (.weight, .bias)
};

// Every layout, in the order they are tried.
const std::vector<InternVLVisionLayout>& InternVLVisionLayouts();

// The layout whose class-token tensor `weights` holds; fails naming `where` (the checkpoint) and
// the tensor each layout expects when none fits.
const InternVLVisionLayout& FindInternVLVisionLayout(const TensorSource& weights,
                                                     const std::string& where);

}  // namespace lightvlm
