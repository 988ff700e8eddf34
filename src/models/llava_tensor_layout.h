// Where a LLaVA checkpoint keeps its parts. transformers has saved LlavaForConditionalGeneration
// under three sets of tensor names, and the hub holds all three; a checkpoint's layout is the one
// whose tensors it holds.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/decoder.h"

namespace lightvlm {

struct LlavaTensorLayout {
  std::string name;            // which transformers versions write it
  DecoderTensorNames decoder;  // the Llama decoder and its lm_head
  std::string vision;          // the CLIP vision model: embeddings., pre_layrnorm., encoder.layers.
  std::string projector;       // the projector: linear_1, linear_2

  // The tensors a checkpoint of this layout holds (one of each part); they select it.
  std::vector<std::string> MarkerTensors() const;
};

// Every layout, in the order they are tried.
const std::vector<LlavaTensorLayout>& LlavaTensorLayouts();

// The layout whose marker tensors `checkpoint` holds; fails naming the expected tensors of every
// layout when none fits.
const LlavaTensorLayout& FindLlavaTensorLayout(const Checkpoint& checkpoint);

}  // namespace lightvlm
