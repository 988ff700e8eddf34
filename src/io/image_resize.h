// Resizing 8-bit RGB images bit-identically to Pillow's Image.resize(size, resample), which is
// what Hugging Face image processors call. A plain bicubic resize does not match it: Pillow
// widens the filter when downscaling (antialiasing), normalizes the weights of every output
// pixel, uses 22-bit fixed-point weights, and rounds and clips to uint8 after each of its two
// passes. NEAREST takes another path in Pillow (an affine scale with accumulated coordinates).
#pragma once

#include <optional>
#include <string_view>

#include "io/image.h"

namespace lightvlm {

// Numbered as PIL.Image.Resampling, and as the "resample" field of preprocessor_config.json.
enum class ResampleFilter {
  kNearest = 0,
  kLanczos = 1,  // a = 3
  kBilinear = 2,
  kBicubic = 3,  // a = -0.5
  kBox = 4,
  kHamming = 5,
};

// The filter with PIL's number `id`, or nullopt for other numbers (Pillow 13 also defines
// MKS2013 = 6 and MKS2021 = 7; no checkpoint we know uses them, and they are not implemented).
std::optional<ResampleFilter> ResampleFilterFromPil(int id);
std::string_view ResampleFilterName(ResampleFilter filter);  // "bicubic", ...

// `image` resampled to width x height (both >= 1), as Pillow resizes an "RGB" image. The same
// size returns a copy, as Pillow does.
Image ResizeImage(const Image& image, int width, int height, ResampleFilter filter);

}  // namespace lightvlm
