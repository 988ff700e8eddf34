// Qwen2VLImageProcessor, as transformers 4.46 defines it: an RGB image becomes flattened patches by
//   1. smart resize: both sides to multiples of patch_size * merge_size (28), the pixel count
//      within min_pixels..max_pixels, the aspect ratio kept as closely as possible;
//   2. resize (Pillow-identical, io/image_resize.h), rescale and normalize as CLIP does;
//   3. the frame twice (temporal_patch_size copies: an image is a still video), cut into
//      patch_size x patch_size patches, each 2x2 block of patches (one merged token) consecutive.
// The rows equal transformers' pixel_values bit for bit when the decoded pixels are the same.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/tensor.h"
#include "io/image.h"
#include "io/image_resize.h"
#include "io/json_file.h"
#include "models/image_grid.h"
#include "models/pixel_scaling.h"

namespace lightvlm {

// The fields of preprocessor_config.json, with Qwen2VLImageProcessor's defaults for absent ones.
struct Qwen2VlImageProcessorConfig {
  bool do_resize = true;
  // Top-level min_pixels/max_pixels (what 4.46 reads), else size.min_pixels/size.max_pixels, else
  // size.shortest_edge/size.longest_edge (the names later transformers versions write).
  int64_t min_pixels = 56 * 56;
  int64_t max_pixels = 28 * 28 * 1280;
  int patch_size = 14;
  int temporal_patch_size = 2;
  int merge_size = 2;
  ResampleFilter resample = ResampleFilter::kBicubic;
  PixelScaling scaling;  // rescale and normalize (models/pixel_scaling.h)
};

// Reads and validates a preprocessor_config.json; errors name the file and the field.
Qwen2VlImageProcessorConfig ReadQwen2VlImageProcessorConfig(const JsonFile& file);
Qwen2VlImageProcessorConfig LoadQwen2VlImageProcessorConfig(const std::string& path);

struct SmartResizedSize {
  int height = 0;
  int width = 0;
};

// transformers' smart_resize(height, width, factor, min_pixels, max_pixels), with Python's
// rounding (round half to even) and double arithmetic. Fails, as the reference raises, when a side
// is below `factor` or the aspect ratio exceeds 200; also when the result has a zero side (the
// reference would then fail inside the resize).
SmartResizedSize SmartResize(int height, int width, int factor, int64_t min_pixels,
                             int64_t max_pixels);

// One image's patches: `patches` is [grid_t * grid_h * grid_w, 3 * temporal_patch_size *
// patch_size^2] float32, rows ordered (t, h / merge, w / merge, h % merge, w % merge) and each
// row (channel, frame, y, x), as transformers flattens them. The grid counts patch_size patches.
struct Qwen2VlImagePatches {
  Tensor patches;
  ImageGridThw grid;
};

Qwen2VlImagePatches Qwen2VlPatchify(const Image& image, const Qwen2VlImageProcessorConfig& config);

}  // namespace lightvlm
