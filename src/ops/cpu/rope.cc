// Rotary position embedding in the rotate-half layout of transformers' Llama.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

// cos and sin of angle, times `scaling`. The angle arrives rounded to float as in the reference
// (a float32 product of position and frequency), because at large positions that rounding moves
// it by more than our tolerance.
void Rotation(float angle, float scaling, float* cos_out, float* sin_out) {
  *cos_out = static_cast<float>(std::cos(static_cast<double>(angle))) * scaling;
  *sin_out = static_cast<float>(std::sin(static_cast<double>(angle))) * scaling;
}

// x[i] pairs with x[i + half]: (a, b) -> (a cos - b sin, b cos + a sin).
void RotateHead(const float* cos_values, const float* sin_values, int64_t half, float* x) {
  for (int64_t i = 0; i < half; ++i) {
    const float a = x[i];
    const float b = x[i + half];
    x[i] = a * cos_values[i] - b * sin_values[i];
    x[i + half] = b * cos_values[i] + a * sin_values[i];
  }
}

// Rotates every head of every row by the `half` cos and sin values that
// rotation_of_row(row, cos, sin) fills for that row.
template <typename RotationOfRow>
void RotateRows(ThreadPool& pool, float* x, int64_t rows, int64_t heads, int64_t head_dim,
                int64_t half, const RotationOfRow& rotation_of_row) {
  const int64_t row_size = heads * head_dim;
  pool.ParallelFor(
      rows,
      [&](int64_t begin, int64_t end) {
        std::vector<float> cos_values(half), sin_values(half);
        for (int64_t r = begin; r < end; ++r) {
          rotation_of_row(r, cos_values.data(), sin_values.data());
          for (int64_t h = 0; h < heads; ++h) {
            RotateHead(cos_values.data(), sin_values.data(), half, x + r * row_size + h * head_dim);
          }
        }
      },
      std::max<int64_t>(1, 4096 / row_size));
}

}  // namespace

void ApplyRope(ThreadPool& pool, float* x, int64_t rows, int64_t heads, int64_t head_dim,
               const int64_t* positions, std::span<const float> inv_freq, float attention_scaling) {
  const auto half = static_cast<int64_t>(inv_freq.size());
  Check(rows >= 0 && heads > 0 && head_dim > 0, "ApplyRope: invalid shape rows=", rows,
        " heads=", heads, " head_dim=", head_dim);
  Check(2 * half <= head_dim, "ApplyRope: rotary_dim (", 2 * half, ") exceeds head_dim (", head_dim,
        ")");
  if (half == 0) return;
  RotateRows(pool, x, rows, heads, head_dim, half, [&](int64_t r, float* cos_row, float* sin_row) {
    for (int64_t i = 0; i < half; ++i) {
      Rotation(static_cast<float>(positions[r]) * inv_freq[i], attention_scaling, cos_row + i,
               sin_row + i);
    }
  });
}

void ApplyMultiAxisRope(ThreadPool& pool, float* x, int64_t rows, int64_t heads, int64_t head_dim,
                        const int64_t* positions, int64_t axes,
                        std::span<const int32_t> frequency_axis, std::span<const float> inv_freq) {
  const auto half = static_cast<int64_t>(inv_freq.size());
  Check(rows >= 0 && heads > 0 && head_dim > 0 && axes > 0,
        "ApplyMultiAxisRope: invalid shape rows=", rows, " heads=", heads, " head_dim=", head_dim,
        " axes=", axes);
  Check(2 * half <= head_dim && frequency_axis.size() == inv_freq.size(),
        "ApplyMultiAxisRope: ", frequency_axis.size(), " frequency axes for ", half,
        " frequencies, head_dim ", head_dim);
  for (const int32_t axis : frequency_axis) {
    Check(axis >= 0 && axis < axes, "ApplyMultiAxisRope: frequency axis ", axis, " is not below ",
          axes);
  }
  if (half == 0) return;
  RotateRows(pool, x, rows, heads, head_dim, half, [&](int64_t r, float* cos_row, float* sin_row) {
    for (int64_t i = 0; i < half; ++i) {
      Rotation(static_cast<float>(positions[r * axes + frequency_axis[i]]) * inv_freq[i], 1.0f,
               cos_row + i, sin_row + i);
    }
  });
}

}  // namespace lightvlm::ops
