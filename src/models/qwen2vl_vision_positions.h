// The 2D rotary position ids of Qwen2-VL's vision tower (Qwen2VisionTransformer.rot_pos_emb):
// every patch row of the image processor's output gets its patch row and column in the image,
// listed in the same merge order as the rows (merge x merge blocks, block after block), repeated
// for each of the t temporal patches.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/image_grid.h"

namespace lightvlm {

struct PatchRowColumn {
  int64_t row = 0;
  int64_t column = 0;
};

// For images in order, concatenated as their patches are. Fails unless each grid is positive with
// h and w multiples of spatial_merge_size.
std::vector<PatchRowColumn> VisionRotaryPositions(std::span<const ImageGridThw> grids,
                                                  int spatial_merge_size);

}  // namespace lightvlm
