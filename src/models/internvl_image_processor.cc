#include "models/internvl_image_processor.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "base/error.h"
#include "models/clip_image_processor.h"
#include "models/image_processor_file.h"

namespace lightvlm {
namespace {

// Resizing to a grid of tiles allocates columns * rows tiles of pixels: refuse configs that
// would allow more than this (12 tiles of 448 are 2.4M pixels).
constexpr int64_t kMaxTiledPixels = 50'000'000;

int ReadPositive(const JsonFile& file, const std::string& field, int fallback) {
  const int value = file.GetOr<int32_t>(field, fallback);
  Check(value > 0, file.path(), ": field '", field, "' must be positive, got ", value);
  return value;
}

// The CLIP processor's rescale and normalize (numpy's arithmetic, shared), without its resize
// and crop.
ClipImageProcessorConfig NormalizeOnly(const InternVLImageProcessorConfig& config) {
  ClipImageProcessorConfig clip;
  clip.do_resize = false;
  clip.do_center_crop = false;
  clip.scaling = config.scaling;
  return clip;
}

Image CropTile(const Image& image, int column, int row, int width, int height) {
  Image tile{width, height, std::vector<uint8_t>(size_t{3} * width * height)};
  for (int y = 0; y < height; ++y) {
    const size_t source =
        3 * ((size_t{1} * row * height + y) * image.width + size_t{1} * column * width);
    std::copy_n(&image.rgb[source], size_t{3} * width, &tile.rgb[size_t{3} * y * width]);
  }
  return tile;
}

}  // namespace

InternVLImageProcessorConfig ReadInternVLImageProcessorConfig(const JsonFile& file) {
  InternVLImageProcessorConfig config;
  const nlohmann::json* size = file.Node("size");
  if (size != nullptr && !size->is_null()) {
    Check(size->is_object() && size->contains("height") && size->contains("width"), file.path(),
          ": field 'size' should be {\"height\", \"width\"}, got ", size->dump());
    config.tile_height = ReadPositive(file, "size.height", 0);
    config.tile_width = ReadPositive(file, "size.width", 0);
  }
  config.min_tiles = ReadPositive(file, "min_patches", config.min_tiles);
  config.max_tiles = ReadPositive(file, "max_patches", config.max_tiles);
  Check(config.min_tiles <= config.max_tiles, file.path(), ": field 'min_patches' (",
        config.min_tiles, ") exceeds 'max_patches' (", config.max_tiles, ")");
  Check(int64_t{config.tile_height} * config.tile_width * config.max_tiles <= kMaxTiledPixels,
        file.path(), ": fields 'size' and 'max_patches' allow ", config.max_tiles, " tiles of ",
        config.tile_height, "x", config.tile_width, ", more than ", kMaxTiledPixels, " pixels");
  config.resample = ReadResampleFilter(file, config.resample);
  config.do_resize = file.GetOr<bool>("do_resize", config.do_resize);
  config.scaling = ReadPixelScaling(file);
  return config;
}

InternVLImageProcessorConfig LoadInternVLImageProcessorConfig(const std::string& directory) {
  return ReadInternVLImageProcessorConfig(LoadImageProcessorJson(directory));
}

TileGrid InternVLTileGrid(int width, int height, const InternVLImageProcessorConfig& config) {
  Check(width > 0 && height > 0, "cannot tile an image of ", width, "x", height);
  std::vector<std::pair<int, int>> grids;  // (columns, rows), columns-major
  for (int columns = 1; columns <= config.max_tiles; ++columns) {
    for (int rows = 1; rows <= config.max_tiles / columns; ++rows) {
      if (columns * rows >= config.min_tiles) grids.emplace_back(columns, rows);
    }
  }
  std::stable_sort(grids.begin(), grids.end(), [](const auto& a, const auto& b) {
    return a.first * a.second < b.first * b.second;
  });
  const double aspect_ratio = static_cast<double>(width) / height;
  const double area = static_cast<double>(width) * height;  // exact below 2^53
  double best_difference = INFINITY;
  TileGrid best;
  for (const auto& [columns, rows] : grids) {
    const double difference = std::fabs(aspect_ratio - static_cast<double>(columns) / rows);
    if (difference < best_difference) {
      best_difference = difference;
      best = {columns, rows};
    } else if (difference == best_difference &&
               area > 0.5 * config.tile_height * config.tile_width * columns * rows) {
      best = {columns, rows};
    }
  }
  return best;
}

InternVLPixelValues InternVLPreprocess(const Image& image,
                                       const InternVLImageProcessorConfig& config) {
  const ClipImageProcessorConfig normalize = NormalizeOnly(config);
  const int tile_width = config.tile_width;
  const int tile_height = config.tile_height;
  InternVLPixelValues result;
  if (config.max_tiles == 1) {
    result.tiles.push_back(ClipPixelValues(
        config.do_resize ? ResizeImage(image, tile_width, tile_height, config.resample) : image,
        normalize));
    return result;
  }
  result.grid = InternVLTileGrid(image.width, image.height, config);
  const Image resized = ResizeImage(image, tile_width * result.grid.columns,
                                    tile_height * result.grid.rows, config.resample);
  for (int row = 0; row < result.grid.rows; ++row) {
    for (int column = 0; column < result.grid.columns; ++column) {
      result.tiles.push_back(
          ClipPixelValues(CropTile(resized, column, row, tile_width, tile_height), normalize));
    }
  }
  if (result.tiles.size() > 1) {
    result.tiles.push_back(
        ClipPixelValues(ResizeImage(image, tile_width, tile_height, config.resample), normalize));
  }
  return result;
}

}  // namespace lightvlm
