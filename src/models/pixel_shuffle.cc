#include "models/pixel_shuffle.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace lightvlm {

Tensor PixelShuffle(const Tensor& features, int64_t scale) {
  Check(features.shape().size() == 3, "pixel shuffle: expected [images, tokens, channels], got ",
        features.shape().size(), " dimensions");
  Check(scale > 0, "pixel shuffle: scale ", scale, " must be positive");
  const int64_t images = features.dim(0), tokens = features.dim(1), channels = features.dim(2);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
  Check(side * side == tokens && side % scale == 0, "pixel shuffle: ", tokens,
        " vision tokens are not the square of a side that ", scale, " divides");
  const int64_t out_side = side / scale;
  Tensor out(DType::kF32, {images, out_side * out_side, scale * scale * channels});
  const float* in = features.f32();
  float* destination = out.f32();
  for (int64_t image = 0; image < images; ++image) {
    const float* image_in = in + image * tokens * channels;
    for (int64_t row = 0; row < out_side; ++row) {
      for (int64_t column = 0; column < out_side; ++column) {
        for (int64_t dy = 0; dy < scale; ++dy) {
          const float* source = image_in + ((scale * row + dy) * side + scale * column) * channels;
          destination = std::copy_n(source, scale * channels, destination);
        }
      }
    }
  }
  return out;
}

std::vector<float> ShuffledSaliency(const std::vector<float>& saliency, int64_t images,
                                    int64_t scale) {
  Check(images > 0 && static_cast<int64_t>(saliency.size()) % images == 0,
        "pixel shuffle: ", saliency.size(), " saliency values for ", images, " images");
  // One channel through the shuffle itself, so the order is the features' by construction.
  Tensor values(DType::kF32, {images, static_cast<int64_t>(saliency.size()) / images, 1});
  std::copy(saliency.begin(), saliency.end(), values.f32());
  const Tensor shuffled = PixelShuffle(values, scale);
  std::vector<float> summed(shuffled.dim(0) * shuffled.dim(1), 0.0f);
  for (size_t token = 0; token < summed.size(); ++token) {
    for (int64_t i = 0; i < shuffled.dim(2); ++i) {
      summed[token] += shuffled.f32()[token * shuffled.dim(2) + i];
    }
  }
  return summed;
}

}  // namespace lightvlm
