#include "models/qwen2vl_vision_positions.h"

#include "base/error.h"

namespace lightvlm {

std::vector<PatchRowColumn> VisionRotaryPositions(std::span<const ImageGridThw> grids,
                                                  int spatial_merge_size) {
  const int64_t merge = spatial_merge_size;
  Check(merge > 0, "spatial_merge_size must be positive, got ", merge);
  std::vector<PatchRowColumn> positions;
  for (size_t image = 0; image < grids.size(); ++image) {
    const ImageGridThw& grid = grids[image];
    Check(grid.t > 0 && grid.h > 0 && grid.w > 0 && grid.h % merge == 0 && grid.w % merge == 0,
          "image ", image + 1, ": grid (", grid.t, ", ", grid.h, ", ", grid.w,
          ") is not positive with h and w multiples of spatial_merge_size ", merge);
    for (int64_t frame = 0; frame < grid.t; ++frame) {
      for (int64_t block_row = 0; block_row < grid.h / merge; ++block_row) {
        for (int64_t block_column = 0; block_column < grid.w / merge; ++block_column) {
          for (int64_t in_row = 0; in_row < merge; ++in_row) {
            for (int64_t in_column = 0; in_column < merge; ++in_column) {
              positions.push_back({block_row * merge + in_row, block_column * merge + in_column});
            }
          }
        }
      }
    }
  }
  return positions;
}

}  // namespace lightvlm
