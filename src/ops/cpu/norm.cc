// RmsNorm and LayerNorm. Statistics accumulate in double and the normalisation is applied in
// double, so results are within an ulp of the exact value and match PyTorch's float32 to ~1e-6.
#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

// Rows per task, so that a task has a few thousand elements of work.
int64_t RowsPerTask(int64_t dim) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, dim)); }

void CheckNormArgs(const char* op, int64_t rows, int64_t dim) {
  Check(rows >= 0 && dim > 0, op, ": invalid shape rows=", rows, " dim=", dim);
}

void RmsNormRow(const float* x, const float* weight, int64_t dim, float eps, float* y) {
  double sum_squares = 0;
  for (int64_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(x[i]) * x[i];
  const double inv_rms = 1.0 / std::sqrt(sum_squares / dim + eps);
  for (int64_t i = 0; i < dim; ++i) y[i] = static_cast<float>(x[i] * inv_rms * weight[i]);
}

void LayerNormRow(const float* x, const float* weight, const float* bias, int64_t dim, float eps,
                  float* y) {
  double sum = 0;
  for (int64_t i = 0; i < dim; ++i) sum += x[i];
  const double mean = sum / dim;
  // Two passes: the variance of centred values does not cancel catastrophically.
  double sum_squares = 0;
  for (int64_t i = 0; i < dim; ++i) sum_squares += (x[i] - mean) * (x[i] - mean);
  const double inv_std = 1.0 / std::sqrt(sum_squares / dim + eps);
  for (int64_t i = 0; i < dim; ++i) {
    const double shift = bias ? bias[i] : 0.0;
    y[i] = static_cast<float>((x[i] - mean) * inv_std * weight[i] + shift);
  }
}

}  // namespace

void RmsNorm(ThreadPool& pool, const float* x, const float* weight, int64_t rows, int64_t dim,
             float eps, float* y) {
  CheckNormArgs("RmsNorm", rows, dim);
  pool.ParallelFor(
      rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          RmsNormRow(x + r * dim, weight, dim, eps, y + r * dim);
      },
      RowsPerTask(dim));
}

void AddRmsNorm(ThreadPool& pool, float* x, const float* delta, const float* weight, int64_t rows,
                int64_t dim, float eps, float* y) {
  CheckNormArgs("AddRmsNorm", rows, dim);
  pool.ParallelFor(
      rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          float* row = x + r * dim;
          const float* add = delta + r * dim;
          for (int64_t i = 0; i < dim; ++i) row[i] += add[i];
          // The row is still in L1: normalising it now saves reading all of x again.
          RmsNormRow(row, weight, dim, eps, y + r * dim);
        }
      },
      RowsPerTask(dim));
}

void LayerNorm(ThreadPool& pool, const float* x, const float* weight, const float* bias,
               int64_t rows, int64_t dim, float eps, float* y) {
  CheckNormArgs("LayerNorm", rows, dim);
  pool.ParallelFor(
      rows,
      [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          LayerNormRow(x + r * dim, weight, bias, dim, eps, y + r * dim);
        }
      },
      RowsPerTask(dim));
}

}  // namespace lightvlm::ops
