// Resizing a ViT's learned position table to another patch grid, as InternViT does when a tile's
// patch grid differs from the table's: torch.nn.functional.interpolate(mode="bicubic",
// align_corners=False) over the grid, every channel alike.
#pragma once

#include <cstdint>

#include "base/tensor.h"

namespace lightvlm {

// `table` [rows * columns, dim], the positions of a rows x columns grid row by row ->
// [new_rows * new_columns, dim]. As torch: source coordinate (i + 0.5) * rows / new_rows - 0.5,
// cubic convolution with A = -0.75 over 4 taps, taps beyond the edge read the edge. The same
// size gives the table back unchanged.
Tensor InterpolatePositionGrid(const float* table, int64_t rows, int64_t columns, int64_t dim,
                               int64_t new_rows, int64_t new_columns);

}  // namespace lightvlm
