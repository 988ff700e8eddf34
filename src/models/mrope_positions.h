// Multimodal rotary (M-RoPE) position ids of a Qwen2-VL prompt, as transformers 4.46's
// Qwen2VLForConditionalGeneration.get_rope_index computes them for one unpadded sequence of text
// and images. Every token has three ids (temporal, height, width):
//   * a text token has the same id in all three, one more than the previous token's largest;
//   * an image with a merged grid of t x h x w tokens (grid_h, grid_w divided by the spatial merge
//     size) starting where the text's next id would be, s, gives its token (i, j, k) in row-major
//     order the ids (s + i, s + j, s + k);
//   * so text after an image continues at s + max(t, h, w), not at s + t*h*w.
// The decoder continues at `next_position`, which is n_tokens + rope_delta (the reference's
// mrope_position_deltas), and gives each generated token the same id in all three.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "models/image_grid.h"

namespace lightvlm {

struct MropeTokenIds {
  int32_t image = 0;         // <|image_pad|>: image_token_id
  int32_t vision_start = 0;  // <|vision_start|>: vision_start_token_id
};

struct MropePositions {
  // [3][n]: temporal, height, width ids of every prompt token.
  std::array<std::vector<int64_t>, 3> ids;
  int64_t next_position = 0;  // largest id + 1: where decoding continues
  int64_t rope_delta = 0;     // next_position - n, mrope_position_deltas
};

// Images are the vision_start tokens followed by an image token, in prompt order, one grid each.
// Fails, naming the image and position, when the grid count differs from that, when a grid is not
// a positive multiple of spatial_merge_size, or when an image's run of image tokens is not exactly
// t*h*w / merge^2 long.
MropePositions ComputeMropePositions(std::span<const int32_t> token_ids,
                                     const MropeTokenIds& special,
                                     std::span<const ImageGridThw> image_grids,
                                     int spatial_merge_size);

}  // namespace lightvlm
