#include "models/position_interpolation.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "base/error.h"

namespace lightvlm {
namespace {

constexpr float kCubicA = -0.75f;  // torch's bicubic coefficient

// The 4 source indices (clamped to the edge) and weights of each output index along one axis,
// as torch's upsample_bicubic2d computes them.
struct AxisTaps {
  std::vector<std::array<int64_t, 4>> index;
  std::vector<std::array<float, 4>> weight;
};

AxisTaps CubicTaps(int64_t in_size, int64_t out_size) {
  AxisTaps taps;
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const float source = scale * (static_cast<float>(i) + 0.5f) - 0.5f;
    const int64_t base = std::min(static_cast<int64_t>(std::floor(source)), in_size - 1);
    const float t = std::clamp(source - static_cast<float>(base), 0.0f, 1.0f);
    // Cubic convolution: |x| <= 1 and 1 < |x| < 2 pieces, at distances 1 + t, t, 1 - t, 2 - t.
    auto near = [](float x) { return ((kCubicA + 2) * x - (kCubicA + 3)) * x * x + 1; };
    auto far = [](float x) {
      return ((kCubicA * x - 5 * kCubicA) * x + 8 * kCubicA) * x - 4 * kCubicA;
    };
    taps.weight.push_back({far(t + 1), near(t), near(1 - t), far(2 - t)});
    std::array<int64_t, 4> index;
    for (int64_t j = 0; j < 4; ++j) index[j] = std::clamp(base - 1 + j, int64_t{0}, in_size - 1);
    taps.index.push_back(index);
  }
  return taps;
}

}  // namespace

Tensor InterpolatePositionGrid(const float* table, int64_t rows, int64_t columns, int64_t dim,
                               int64_t new_rows, int64_t new_columns) {
  Check(rows > 0 && columns > 0 && new_rows > 0 && new_columns > 0 && dim > 0,
        "position interpolation: grids must be non-empty, got ", rows, "x", columns, " to ",
        new_rows, "x", new_columns);
  const AxisTaps y_taps = CubicTaps(rows, new_rows), x_taps = CubicTaps(columns, new_columns);
  Tensor out(DType::kF32, {new_rows * new_columns, dim});
  std::vector<float> row_mix(dim);
  for (int64_t oy = 0; oy < new_rows; ++oy) {
    for (int64_t ox = 0; ox < new_columns; ++ox) {
      float* target = out.f32() + (oy * new_columns + ox) * dim;
      for (int64_t i = 0; i < 4; ++i) {
        // Along x within source row y_taps.index[oy][i], then weighted along y.
        std::fill(row_mix.begin(), row_mix.end(), 0.0f);
        for (int64_t j = 0; j < 4; ++j) {
          const float w = x_taps.weight[ox][j];
          const float* source = table + (y_taps.index[oy][i] * columns + x_taps.index[ox][j]) * dim;
          for (int64_t c = 0; c < dim; ++c) row_mix[c] += w * source[c];
        }
        const float w = y_taps.weight[oy][i];
        for (int64_t c = 0; c < dim; ++c) target[c] += w * row_mix[c];
      }
    }
  }
  return out;
}

}  // namespace lightvlm
