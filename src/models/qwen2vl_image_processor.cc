#include "models/qwen2vl_image_processor.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"

namespace lightvlm {
namespace {

// smart_resize keeps the result within max_pixels, but a config could ask for anything: refuse
// configs whose images could exceed this many pixels before any is allocated.
constexpr int64_t kMaxConfiguredPixels = 50'000'000;

int ReadSmallPositive(const JsonFile& file, const std::string& field, int fallback) {
  const int value = file.GetOr<int32_t>(field, fallback);
  Check(value > 0 && value <= 1024, file.path(), ": field '", field, "' must be in 1..1024, got ",
        value);
  return value;
}

// min/max pixels: top level, else under "size" with either pair of names.
int64_t ReadPixelBound(const JsonFile& file, const std::string& name, const std::string& alias,
                       int64_t fallback) {
  for (const std::string& field : {name, "size." + name, "size." + alias}) {
    if (file.Node(field) == nullptr) continue;
    const int64_t value = file.Get<int64_t>(field);
    Check(value > 0 && value <= kMaxConfiguredPixels, file.path(), ": field '", field,
          "' must be in 1..", kMaxConfiguredPixels, ", got ", value);
    return value;
  }
  return fallback;
}

}  // namespace

Qwen2VlImageProcessorConfig ReadQwen2VlImageProcessorConfig(const JsonFile& file) {
  Qwen2VlImageProcessorConfig config;
  config.do_resize = file.GetOr<bool>("do_resize", config.do_resize);
  config.min_pixels = ReadPixelBound(file, "min_pixels", "shortest_edge", config.min_pixels);
  config.max_pixels = ReadPixelBound(file, "max_pixels", "longest_edge", config.max_pixels);
  Check(config.min_pixels <= config.max_pixels, file.path(), ": min_pixels ", config.min_pixels,
        " exceeds max_pixels ", config.max_pixels);
  config.patch_size = ReadSmallPositive(file, "patch_size", config.patch_size);
  config.temporal_patch_size =
      ReadSmallPositive(file, "temporal_patch_size", config.temporal_patch_size);
  config.merge_size = ReadSmallPositive(file, "merge_size", config.merge_size);
  config.resample = ReadResampleFilter(file, config.resample);
  config.scaling = ReadPixelScaling(file);
  return config;
}

Qwen2VlImageProcessorConfig LoadQwen2VlImageProcessorConfig(const std::string& path) {
  return ReadQwen2VlImageProcessorConfig(JsonFile::Load(path));
}

SmartResizedSize SmartResize(int height, int width, int factor, int64_t min_pixels,
                             int64_t max_pixels) {
  Check(height >= factor && width >= factor, "image of ", width, "x", height,
        " is too small for Qwen2-VL: both sides must be at least ", factor, " pixels");
  const double aspect = static_cast<double>(std::max(height, width)) / std::min(height, width);
  Check(aspect <= 200, "image of ", width, "x", height, " has an aspect ratio of ", aspect,
        ": Qwen2-VL accepts at most 200");
  // Python's round() rounds half to even, as std::nearbyint does in the default rounding mode.
  const double f = factor;
  int64_t h_bar = static_cast<int64_t>(std::nearbyint(height / f)) * factor;
  int64_t w_bar = static_cast<int64_t>(std::nearbyint(width / f)) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(static_cast<double>(int64_t{height} * width) / max_pixels);
    h_bar = static_cast<int64_t>(std::floor(height / beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::floor(width / beta / f)) * factor;
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / (int64_t{height} * width));
    h_bar = static_cast<int64_t>(std::ceil(height * beta / f)) * factor;
    w_bar = static_cast<int64_t>(std::ceil(width * beta / f)) * factor;
  }
  Check(h_bar > 0 && w_bar > 0, "image of ", width, "x", height, " resizes to ", w_bar, "x", h_bar,
        " under max_pixels ", max_pixels, ": the aspect ratio is too extreme for that limit");
  Check(h_bar * w_bar <= kMaxConfiguredPixels, "image of ", width, "x", height, " resizes to ",
        w_bar, "x", h_bar, ", more than ", kMaxConfiguredPixels, " pixels");
  return {static_cast<int>(h_bar), static_cast<int>(w_bar)};
}

Qwen2VlImagePatches Qwen2VlPatchify(const Image& image, const Qwen2VlImageProcessorConfig& config) {
  const int patch = config.patch_size;
  const int merge = config.merge_size;
  const int frames = config.temporal_patch_size;
  const Image resized = [&] {
    if (!config.do_resize) return Image(image);
    const SmartResizedSize size =
        SmartResize(image.height, image.width, patch * merge, config.min_pixels, config.max_pixels);
    return ResizeImage(image, size.width, size.height, config.resample);
  }();
  Check(resized.height % (patch * merge) == 0 && resized.width % (patch * merge) == 0, "image of ",
        resized.width, "x", resized.height, " is not a multiple of ", patch * merge,
        " pixels (patch_size x merge_size) on each side, and do_resize is off");

  Qwen2VlImagePatches out;
  out.grid.t = 1;  // one frame repeated temporal_patch_size times is one temporal patch
  out.grid.h = resized.height / patch;
  out.grid.w = resized.width / patch;
  const int64_t row_size = int64_t{3} * frames * patch * patch;
  out.patches = Tensor(DType::kF32, {out.grid.h * out.grid.w, row_size});
  const auto table = PixelValueTable(config.scaling);
  float* dst = out.patches.f32();
  // Rows in merge order: a block of merge x merge patches, block after block, row-major.
  for (int64_t block_y = 0; block_y < out.grid.h / merge; ++block_y) {
    for (int64_t block_x = 0; block_x < out.grid.w / merge; ++block_x) {
      for (int in_y = 0; in_y < merge; ++in_y) {
        for (int in_x = 0; in_x < merge; ++in_x) {
          const int64_t top = (block_y * merge + in_y) * patch;
          const int64_t left = (block_x * merge + in_x) * patch;
          for (int c = 0; c < 3; ++c) {
            for (int frame = 0; frame < frames; ++frame) {  // the same frame each time
              for (int y = 0; y < patch; ++y) {
                const uint8_t* src = &resized.rgb[((top + y) * resized.width + left) * 3 + c];
                for (int x = 0; x < patch; ++x) *dst++ = table[c][src[x * 3]];
              }
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace lightvlm
