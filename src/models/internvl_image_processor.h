// InternVL's image preprocessing, as transformers 5.x's InternVLProcessor runs its
// GotOcr2ImageProcessor (PIL backend), which is InternVL's own dynamic_preprocess:
//   1. pick the tile grid (columns x rows, min_tiles <= columns * rows <= max_tiles) whose aspect
//      ratio is closest to the image's (InternVLTileGrid);
//   2. resize the image (Pillow-identical, io/image_resize.h) to columns * tile_width x
//      rows * tile_height and cut it into tiles, row by row;
//   3. with more than one tile, append a thumbnail: the whole image resized to one tile;
//   4. rescale and normalize every tile as CLIPImageProcessor does (models/clip_image_processor.h).
// With max_tiles 1 the image is resized to one tile. InternVLProcessor always tiles: it passes
// crop_to_patches=True over the config's value (hub files say false), so the field is not read;
// nor is use_thumbnail (transformers always adds the thumbnail).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "io/image.h"
#include "io/image_resize.h"
#include "io/json_file.h"
#include "models/pixel_scaling.h"

namespace lightvlm {

// The fields of the image processor config, with GotOcr2ImageProcessor's defaults for absent or
// null ones (except size: InternVL's 448, not GotOcr2's 384).
struct InternVLImageProcessorConfig {
  int tile_height = 448;  // "size": {"height", "width"}
  int tile_width = 448;
  int min_tiles = 1;   // "min_patches"
  int max_tiles = 12;  // "max_patches"; the engine may lower it (--max-tiles)
  ResampleFilter resample = ResampleFilter::kBicubic;
  bool do_resize = true;  // only read where max_tiles is 1 (tiling always resizes)
  PixelScaling scaling;   // rescale and normalize (models/pixel_scaling.h)
};

// Reads and validates the fields; errors name the file and the field.
InternVLImageProcessorConfig ReadInternVLImageProcessorConfig(const JsonFile& file);
// The config of the checkpoint at `directory` (models/image_processor_file.h says which file).
InternVLImageProcessorConfig LoadInternVLImageProcessorConfig(const std::string& directory);

struct TileGrid {
  int columns = 1;
  int rows = 1;
};

// transformers' get_optimal_tiled_canvas: the candidate grids (columns, rows) in order of tile
// count (columns-major within a count); the first with the smallest |image ratio - grid ratio|
// wins, except that a later grid with an equal difference replaces it while the image's area
// exceeds half the grid's area in pixels.
TileGrid InternVLTileGrid(int width, int height, const InternVLImageProcessorConfig& config);

struct InternVLPixelValues {
  std::vector<Tensor> tiles;  // [3, tile_height, tile_width] float32 each; the thumbnail last
  TileGrid grid;              // 1 x 1 when not tiled
  bool has_thumbnail() const { return tiles.size() > size_t(grid.columns) * grid.rows; }
};

InternVLPixelValues InternVLPreprocess(const Image& image,
                                       const InternVLImageProcessorConfig& config);

}  // namespace lightvlm
