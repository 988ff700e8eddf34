#include "models/internvl_pixel_shuffle.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace lightvlm {

Tensor InternVLPixelShuffle(const Tensor& features) {
  Check(features.shape().size() == 3, "pixel shuffle: expected [tiles, tokens, channels], got ",
        features.shape().size(), " dimensions");
  const int64_t tiles = features.dim(0);
  const int64_t tokens = features.dim(1);
  const int64_t channels = features.dim(2);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
  Check(side * side == tokens && side % 2 == 0, "pixel shuffle: ", tokens,
        " vision tokens are not the square of an even side");
  const int64_t half = side / 2;
  Tensor out(DType::kF32, {tiles, half * half, 4 * channels});
  const float* in = features.f32();
  float* destination = out.f32();
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const float* tile_in = in + tile * tokens * channels;
    for (int64_t row = 0; row < half; ++row) {
      for (int64_t column = 0; column < half; ++column) {
        for (int64_t dy = 0; dy < 2; ++dy) {
          for (int64_t dx = 0; dx < 2; ++dx) {
            const float* source = tile_in + ((2 * row + dy) * side + 2 * column + dx) * channels;
            destination = std::copy_n(source, channels, destination);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace lightvlm
