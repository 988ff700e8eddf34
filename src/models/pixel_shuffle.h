// The pixel shuffle of Idefics3 / SmolVLM's connector (scale_factor) and of InternVL (scale 2:
// downsample_ratio 0.5 with ps_version "v2", so a 448 tile's 32x32 patch tokens become 256 image
// tokens): every scale x scale block of a square grid of vision tokens becomes one token with
// scale^2 times the channels. Output token (r, c) concatenates the input tokens
// (scale * r + dy, scale * c + dx) for dy, then dx, from 0 to scale - 1.
#pragma once

#include <cstdint>

#include <vector>

#include "base/tensor.h"

namespace lightvlm {

// `features` [images, side * side, channels] float32 (row-major over the side x side grid; for
// InternVL an image is a tile, its class token already dropped) ->
// [images, (side / scale)^2, scale^2 * channels]. Fails unless the token count is the square of a
// side that `scale` divides.
Tensor PixelShuffle(const Tensor& features, int64_t scale);

// Per-patch saliency [images * side * side] -> per shuffled token [images * (side / scale)^2]: each
// token's the sum over the scale x scale patches PixelShuffle puts into it, in its order.
std::vector<float> ShuffledSaliency(const std::vector<float>& saliency, int64_t images,
                                    int64_t scale);

}  // namespace lightvlm
