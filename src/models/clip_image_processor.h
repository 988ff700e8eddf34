// CLIPImageProcessor, as transformers 4.46 defines it (LLaVA-1.5 and other CLIP-tower families):
// an RGB image becomes pixel values [3, H, W] float32 by
//   1. resize (Pillow-identical, io/image_resize.h): the shorter side to size.shortest_edge with
//      the longer side truncated to int(shortest_edge * long / short), or exactly
//      size.height x size.width;
//   2. center crop to crop_size, padding with zeros where the image is smaller;
//   3. rescale: float32(float64(value) * rescale_factor), as numpy computes it;
//   4. normalize: (x - mean) / std in float32, per channel.
// The result equals transformers' pixel_values bit for bit when the decoded pixels are the same.
#pragma once

#include <array>
#include <string>

#include "base/tensor.h"
#include "io/image.h"
#include "io/image_resize.h"
#include "io/json_file.h"
#include "models/pixel_scaling.h"

namespace lightvlm {

// The fields of preprocessor_config.json, with CLIPImageProcessor's defaults for absent ones.
struct ClipImageProcessorConfig {
  bool do_resize = true;
  // "size": {"shortest_edge": N}, or {"height", "width"} (then size_shortest_edge is 0), or an int
  // N in old files (= shortest edge). A "longest_edge" beside shortest_edge is ignored, as
  // CLIPImageProcessor ignores it.
  int size_shortest_edge = 224;
  int size_height = 0;
  int size_width = 0;
  ResampleFilter resample = ResampleFilter::kBicubic;
  bool do_center_crop = true;
  int crop_height = 224;  // "crop_size": {"height", "width"}, or an int (square) in old files
  int crop_width = 224;
  PixelScaling scaling;  // rescale and normalize (models/pixel_scaling.h)
  // Read for completeness: decoded images are always RGB already (io/image.h).
  bool do_convert_rgb = true;
};

// Reads and validates a preprocessor_config.json; errors name the file and the field.
ClipImageProcessorConfig ReadClipImageProcessorConfig(const JsonFile& file);
ClipImageProcessorConfig LoadClipImageProcessorConfig(const std::string& path);

struct ImageSize {
  int width = 0;
  int height = 0;
};

// The size step 1 resizes a width x height image to (transformers'
// get_resize_output_image_size with default_to_square=False).
ImageSize ClipResizedSize(const ClipImageProcessorConfig& config, int width, int height);

// The height x width window at the centre of `image`, as transformers' center_crop takes it:
// offsets floor((image - crop) / 2), zeros where the window extends past the image.
Image CenterCropImage(const Image& image, int height, int width);

// Pixel values [3, H, W] float32 of `image` (H, W: the crop size, or the resized size without
// crop). Fails when resizing would exceed 50M pixels (an extreme aspect ratio).
Tensor ClipPixelValues(const Image& image, const ClipImageProcessorConfig& config);

}  // namespace lightvlm
