// Idefics3 / SmolVLM image preprocessing, as transformers 5.x's Idefics3ImageProcessorPil and
// SmolVLMImageProcessorPil (the same code) run it on one image:
//   1. resize (Pillow-identical, io/image_resize.h) so the longest edge is size.longest_edge, the
//      other edge int(longest / aspect ratio) rounded up to even, both at most 4096;
//   2. with do_image_splitting: resize up to multiples of max_image_size.longest_edge (the
//   sub-image
//      side) and, when larger than one sub-image, cut it into rows x columns sub-images, row by
//      row, then append the global image: the same resized image squashed to one sub-image;
//      without splitting, resize to one sub-image;
//   3. rescale and normalize every sub-image (models/pixel_scaling.h).
// Every sub-image is sub-image side square, so a single image is never padded.
#pragma once

#include <string>
#include <vector>

#include "base/tensor.h"
#include "io/image.h"
#include "io/image_resize.h"
#include "io/json_file.h"
#include "models/pixel_scaling.h"

namespace lightvlm {

// The fields of the image processor config, with the processors' defaults for absent ones.
struct SmolVLMImageProcessorConfig {
  bool do_resize = true;
  int longest_edge = 4 * 364;  // "size": {"longest_edge"}
  bool do_image_splitting = true;
  int sub_image = 364;  // "max_image_size": {"longest_edge"}
  ResampleFilter resample = ResampleFilter::kLanczos;
  PixelScaling scaling;  // IMAGENET_STANDARD mean and std (0.5) by default
};

// Reads and validates the fields; errors name the file and the field.
SmolVLMImageProcessorConfig ReadSmolVLMImageProcessorConfig(const JsonFile& file);
// The config of the checkpoint at `directory` (models/image_processor_file.h says which file).
SmolVLMImageProcessorConfig LoadSmolVLMImageProcessorConfig(const std::string& directory);

struct SubImageGrid {
  int rows = 0;  // 0 x 0: the image is not split (one sub-image, the global one)
  int columns = 0;
  int count() const { return rows * columns + 1; }  // the global image included
};

// The grid an image of width x height is split into (step 2), without resizing any pixels.
SubImageGrid SmolVLMSubImageGrid(int width, int height, const SmolVLMImageProcessorConfig& config);

struct SmolVLMPixelValues {
  std::vector<Tensor> sub_images;  // [3, side, side] float32 each; the global image last
  SubImageGrid grid;
};

SmolVLMPixelValues SmolVLMPreprocess(const Image& image, const SmolVLMImageProcessorConfig& config);

}  // namespace lightvlm
