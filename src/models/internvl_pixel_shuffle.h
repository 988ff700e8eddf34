// InternVL's pixel shuffle (ps_version "v2", the only one transformers implements): every 2x2
// block of vision tokens becomes one token with 4x the channels, so a 448 tile's 32x32 patch
// tokens become 256 image tokens. Output token (r, c) concatenates the input tokens at
// (2r, 2c), (2r, 2c + 1), (2r + 1, 2c), (2r + 1, 2c + 1), in that order.
#pragma once

#include "base/tensor.h"

namespace lightvlm {

// `features` [tiles, side * side, channels] float32 (the patch tokens, row-major over the
// side x side grid, class token already dropped) -> [tiles, side * side / 4, 4 * channels].
// Fails unless the token count is the square of an even side.
Tensor InternVLPixelShuffle(const Tensor& features);

}  // namespace lightvlm
