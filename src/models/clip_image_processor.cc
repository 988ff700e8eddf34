#include "models/clip_image_processor.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>
#include <vector>

#include "base/error.h"

namespace lightvlm {
namespace {

using nlohmann::json;

// Resizing a 1x50M strip to a 336-pixel shortest edge would ask for ~17G pixels: refuse early.
constexpr int64_t kMaxResizedPixels = 50'000'000;

std::set<std::string> KeysOf(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

int ReadPositive(const JsonFile& file, const std::string& field) {
  const int value = file.Get<int32_t>(field);
  Check(value > 0, file.path(), ": field '", field, "' must be positive, got ", value);
  return value;
}

// Entry `index` of the [height, width] array at `field` (dotted paths do not index arrays).
int ReadPositiveEntry(const JsonFile& file, const std::string& field, int index) {
  const json& entry = file.Node(field)->at(index);
  Check(entry.is_number_integer() && entry.get<int64_t>() > 0 && entry.get<int64_t>() <= INT32_MAX,
        file.path(), ": field '", field, "' should hold two positive integers, got ",
        file.Node(field)->dump());
  return entry.get<int>();
}

// A [height, width] the processor resizes or crops every image to: checked when read, before an
// image of that size is allocated (the shortest-edge form is checked per image).
void CheckPixels(const JsonFile& file, const std::string& field, int64_t height, int64_t width) {
  Check(height * width <= kMaxResizedPixels, file.path(), ": field '", field, "' asks for ", height,
        "x", width, " images, more than ", kMaxResizedPixels, " pixels");
}

// "size": an int (shortest edge), [height, width], or an object with the keys transformers'
// get_size_dict accepts for CLIP.
void ReadResizeSize(const JsonFile& file, ClipImageProcessorConfig& config) {
  const json* node = file.Node("size");
  if (node == nullptr) return;
  if (node->is_number_integer()) {
    config.size_shortest_edge = ReadPositive(file, "size");
  } else if (node->is_array() && node->size() == 2) {
    config.size_shortest_edge = 0;
    config.size_height = ReadPositiveEntry(file, "size", 0);
    config.size_width = ReadPositiveEntry(file, "size", 1);
  } else if (node->is_object() && node->contains("shortest_edge") &&
             (node->size() == 1 || (node->size() == 2 && node->contains("longest_edge")))) {
    config.size_shortest_edge = ReadPositive(file, "size.shortest_edge");
  } else if (node->is_object() && KeysOf(*node) == std::set<std::string>{"height", "width"}) {
    config.size_shortest_edge = 0;
    config.size_height = ReadPositive(file, "size.height");
    config.size_width = ReadPositive(file, "size.width");
  } else {
    Fail(file.path(), ": field 'size' should be an int, [height, width], {\"shortest_edge\"} or ",
         "{\"height\", \"width\"}; got ", node->dump());
  }
  if (config.size_shortest_edge == 0) {
    CheckPixels(file, "size", config.size_height, config.size_width);
  }
}

void ReadCropSize(const JsonFile& file, ClipImageProcessorConfig& config) {
  const json* node = file.Node("crop_size");
  if (node == nullptr) return;
  if (node->is_number_integer()) {
    config.crop_height = config.crop_width = ReadPositive(file, "crop_size");
  } else if (node->is_array() && node->size() == 2) {
    config.crop_height = ReadPositiveEntry(file, "crop_size", 0);
    config.crop_width = ReadPositiveEntry(file, "crop_size", 1);
  } else if (node->is_object() && KeysOf(*node) == std::set<std::string>{"height", "width"}) {
    config.crop_height = ReadPositive(file, "crop_size.height");
    config.crop_width = ReadPositive(file, "crop_size.width");
  } else {
    Fail(file.path(), ": field 'crop_size' should be an int, [height, width] or ",
         "{\"height\", \"width\"}; got ", node->dump());
  }
  CheckPixels(file, "crop_size", config.crop_height, config.crop_width);
}

// Python's floor division by 2, which transformers' center_crop uses for its offsets.
int FloorHalf(int value) { return value >= 0 ? value / 2 : (value - 1) / 2; }

Image ResizeForClip(const Image& image, const ClipImageProcessorConfig& config) {
  const ImageSize size = ClipResizedSize(config, image.width, image.height);
  return ResizeImage(image, size.width, size.height, config.resample);
}

}  // namespace

ClipImageProcessorConfig ReadClipImageProcessorConfig(const JsonFile& file) {
  ClipImageProcessorConfig config;
  config.do_resize = file.GetOr<bool>("do_resize", config.do_resize);
  ReadResizeSize(file, config);
  config.resample = ReadResampleFilter(file, config.resample);
  config.do_center_crop = file.GetOr<bool>("do_center_crop", config.do_center_crop);
  ReadCropSize(file, config);
  config.scaling = ReadPixelScaling(file);
  config.do_convert_rgb = file.GetOr<bool>("do_convert_rgb", config.do_convert_rgb);
  return config;
}

ClipImageProcessorConfig LoadClipImageProcessorConfig(const std::string& path) {
  return ReadClipImageProcessorConfig(JsonFile::Load(path));
}

ImageSize ClipResizedSize(const ClipImageProcessorConfig& config, int width, int height) {
  Check(width > 0 && height > 0, "cannot resize an image of ", width, "x", height);
  if (config.size_shortest_edge == 0) return {config.size_width, config.size_height};
  const int64_t short_side = std::min(width, height);
  const int64_t long_side = std::max(width, height);
  // Python's int(size * long / short): an exact integer product, a correctly rounded true
  // division (exact in double at these magnitudes), then truncation.
  const double scaled_long =
      static_cast<double>(config.size_shortest_edge * long_side) / static_cast<double>(short_side);
  const int64_t new_long = static_cast<int64_t>(scaled_long);
  const int64_t new_short = config.size_shortest_edge;
  Check(new_long * new_short <= kMaxResizedPixels, "image of ", width, "x", height,
        " would be resized to more than ", kMaxResizedPixels, " pixels (shortest edge ", new_short,
        ", longest ", new_long, ")");
  const int resized_long = static_cast<int>(new_long);
  const int resized_short = static_cast<int>(new_short);
  return width <= height ? ImageSize{resized_short, resized_long}
                         : ImageSize{resized_long, resized_short};
}

Image CenterCropImage(const Image& image, int height, int width) {
  Check(height > 0 && width > 0, "cannot crop an image to ", height, "x", width);
  const int top = FloorHalf(image.height - height);
  const int left = FloorHalf(image.width - width);
  Image crop{width, height, std::vector<uint8_t>(size_t{3} * width * height, 0)};
  const int first_column = std::max(0, -left);
  const int end_column = std::min(width, image.width - left);
  for (int y = 0; y < height; ++y) {
    const int source_y = top + y;
    if (source_y < 0 || source_y >= image.height || first_column >= end_column) continue;
    const uint8_t* source =
        &image.rgb[3 * (size_t{1} * source_y * image.width + left + first_column)];
    std::copy_n(source, size_t{3} * (end_column - first_column),
                &crop.rgb[3 * (size_t{1} * y * width + first_column)]);
  }
  return crop;
}

Tensor ClipPixelValues(const Image& image, const ClipImageProcessorConfig& config) {
  Image resized, cropped;
  const Image* current = &image;
  if (config.do_resize) current = &(resized = ResizeForClip(*current, config));
  if (config.do_center_crop) {
    current = &(cropped = CenterCropImage(*current, config.crop_height, config.crop_width));
  }
  const auto table = PixelValueTable(config.scaling);
  const int64_t plane = int64_t{current->width} * current->height;
  Tensor pixels(DType::kF32, {3, current->height, current->width});
  float* out = pixels.f32();
  for (int c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < plane; ++i) out[c * plane + i] = table[c][current->rgb[3 * i + c]];
  }
  return pixels;
}

}  // namespace lightvlm
