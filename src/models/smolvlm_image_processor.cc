#include "models/smolvlm_image_processor.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "base/error.h"
#include "models/clip_image_processor.h"
#include "models/image_processor_file.h"

namespace lightvlm {
namespace {

constexpr int kMaxImageSize = 4096;  // the processors' MAX_IMAGE_SIZE: no edge exceeds it

struct Size {
  int width = 0;
  int height = 0;
};

int ReadLongestEdge(const JsonFile& file, const std::string& field, int fallback) {
  const nlohmann::json* node = file.Node(field);
  if (node == nullptr || node->is_null()) return fallback;
  Check(node->is_object() && node->contains("longest_edge"), file.path(), ": field '", field,
        "' should be {\"longest_edge\": N}, got ", node->dump());
  const int value = file.Get<int32_t>(field + ".longest_edge");
  Check(value > 0 && value <= kMaxImageSize, file.path(), ": field '", field,
        ".longest_edge' must be between 1 and ", kMaxImageSize, ", got ", value);
  return value;
}

// _resize_output_size_rescale_to_max_len, then _resize_output_size_scale_below_upper_bound.
Size LongestEdgeSize(Size in, int longest_edge) {
  const double aspect_ratio = static_cast<double>(in.width) / in.height;
  Size out = in;
  if (in.width >= in.height) {
    out.width = longest_edge;
    out.height = static_cast<int>(longest_edge / aspect_ratio);
    if (out.height % 2 != 0) ++out.height;
  } else {
    out.height = longest_edge;
    out.width = static_cast<int>(longest_edge * aspect_ratio);
    if (out.width % 2 != 0) ++out.width;
  }
  out = {std::max(out.width, 1), std::max(out.height, 1)};
  const double ratio = static_cast<double>(out.width) / out.height;
  if (out.width >= out.height && out.width > kMaxImageSize) {
    out = {kMaxImageSize, static_cast<int>(kMaxImageSize / ratio)};
  } else if (out.height > out.width && out.height > kMaxImageSize) {
    out = {static_cast<int>(kMaxImageSize * ratio), kMaxImageSize};
  }
  return {std::max(out.width, 1), std::max(out.height, 1)};
}

// resize_for_vision_encoder: both edges up to multiples of the sub-image side.
Size SubImageMultipleSize(Size in, int side) {
  const double aspect_ratio = static_cast<double>(in.width) / in.height;
  auto round_up = [side](double edge) { return static_cast<int>(std::ceil(edge / side)) * side; };
  Size out;
  if (in.width >= in.height) {
    out.width = round_up(in.width);
    out.height = round_up(static_cast<int>(out.width / aspect_ratio));
  } else {
    out.height = round_up(in.height);
    out.width = round_up(static_cast<int>(out.height * aspect_ratio));
  }
  return out;
}

Size ResizedSize(Size in, const SmolVLMImageProcessorConfig& config) {
  return config.do_resize ? LongestEdgeSize(in, config.longest_edge) : in;
}

SubImageGrid GridOf(Size size, int side) {
  if (size.width <= side && size.height <= side) return {};
  return {(size.height - side) / side + 1, (size.width - side) / side + 1};
}

Image Crop(const Image& image, int x, int y, int side) {
  Image crop{side, side, std::vector<uint8_t>(size_t{3} * side * side)};
  for (int row = 0; row < side; ++row) {
    std::copy_n(&image.rgb[3 * (size_t{1} * (y + row) * image.width + x)], size_t{3} * side,
                &crop.rgb[size_t{3} * row * side]);
  }
  return crop;
}

}  // namespace

SmolVLMImageProcessorConfig ReadSmolVLMImageProcessorConfig(const JsonFile& file) {
  SmolVLMImageProcessorConfig config;
  config.do_resize = file.GetOr<bool>("do_resize", config.do_resize);
  config.longest_edge = ReadLongestEdge(file, "size", config.longest_edge);
  config.do_image_splitting = file.GetOr<bool>("do_image_splitting", config.do_image_splitting);
  config.sub_image = ReadLongestEdge(file, "max_image_size", config.sub_image);
  config.resample = ReadResampleFilter(file, config.resample);
  PixelScaling defaults;
  defaults.image_mean = {0.5f, 0.5f, 0.5f};
  defaults.image_std = {0.5f, 0.5f, 0.5f};
  config.scaling = ReadPixelScaling(file, defaults);
  return config;
}

SmolVLMImageProcessorConfig LoadSmolVLMImageProcessorConfig(const std::string& directory) {
  return ReadSmolVLMImageProcessorConfig(LoadImageProcessorJson(directory));
}

SubImageGrid SmolVLMSubImageGrid(int width, int height, const SmolVLMImageProcessorConfig& config) {
  Check(width > 0 && height > 0, "cannot split an image of ", width, "x", height);
  if (!config.do_image_splitting) return {};
  const Size resized = ResizedSize({width, height}, config);
  return GridOf(SubImageMultipleSize(resized, config.sub_image), config.sub_image);
}

SmolVLMPixelValues SmolVLMPreprocess(const Image& image,
                                     const SmolVLMImageProcessorConfig& config) {
  ClipImageProcessorConfig normalize;  // the CLIP processor's rescale and normalize, alone
  normalize.do_resize = false;
  normalize.do_center_crop = false;
  normalize.scaling = config.scaling;
  const int side = config.sub_image;
  const Size resized = ResizedSize({image.width, image.height}, config);
  Image current =
      config.do_resize ? ResizeImage(image, resized.width, resized.height, config.resample) : image;
  SmolVLMPixelValues result;
  if (config.do_image_splitting) {
    const Size multiple = SubImageMultipleSize(resized, side);
    current = ResizeImage(current, multiple.width, multiple.height, config.resample);
    result.grid = GridOf(multiple, side);
    for (int row = 0; row < result.grid.rows; ++row) {
      for (int column = 0; column < result.grid.columns; ++column) {
        result.sub_images.push_back(
            ClipPixelValues(Crop(current, column * side, row * side, side), normalize));
      }
    }
    if (result.grid.rows == 0) {  // one sub-image already: it is the global image as it is
      result.sub_images.push_back(ClipPixelValues(current, normalize));
      return result;
    }
  }
  result.sub_images.push_back(
      ClipPixelValues(ResizeImage(current, side, side, config.resample), normalize));
  return result;
}

}  // namespace lightvlm
