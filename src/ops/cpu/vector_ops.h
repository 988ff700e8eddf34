// The innermost loops of the CPU kernels, vectorised with Highway for the best SIMD target of
// the running CPU (chosen once, at the first call). Callers see plain functions only.
#pragma once

#include <cstdint>

namespace lightvlm::ops {

// Sum of a[i] * b[i], accumulated in float.
float Dot(const float* a, const float* b, int64_t n);

// y[i] += scale * x[i].
void AddScaled(const float* x, float scale, float* y, int64_t n);

// Attention's logits of every query head for `count` cache rows, one dispatch for them all:
// out[h * out_stride + j] = scale * Dot(q + h * n, rows + j * stride + (h / group) * n, n) for
// h < heads, j < count. A cache row holds its kv heads side by side, and each row is read once,
// front to back, for all heads: rows read head by head (a strided sweep per kv head) ran at a
// fifth of the memory's speed.
void GroupedDotRows(const float* q, int64_t heads, int64_t group, const float* rows, int64_t stride,
                    int64_t count, int64_t n, float scale, float* out, int64_t out_stride);

// Attention's weighted sums of values, row by row as above: y[h * n + i] += sum over j < count of
// weights[h * weight_stride + j] * rows[j * stride + (h / group) * n + i], skipping zero weights
// (masked keys).
void GroupedAddScaledRows(const float* rows, int64_t stride, const float* weights,
                          int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                          int64_t group, float* y);

// GroupedDotRows and GroupedAddScaledRows over rows of bfloat16 (the bits of each value, as a KV
// cache stores them), widened to float32 as they load; every sum stays float32. The dot products
// go in blocks of rows, one per SIMD lane, each block and head reduced by one transpose-and-add
// tree into a vector of logits (no horizontal sum per row and head).
void GroupedDotRowsBf16(const float* q, int64_t heads, int64_t group, const uint16_t* rows,
                        int64_t stride, int64_t count, int64_t n, float scale, float* out,
                        int64_t out_stride);
void GroupedAddScaledRowsBf16(const uint16_t* rows, int64_t stride, const float* weights,
                              int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                              int64_t group, float* y);

// x[i] *= scale.
void Scale(float* x, float scale, int64_t n);

// Largest of x[0..n); -infinity when n == 0.
float Max(const float* x, int64_t n);

// x[i] = exp(x[i] - shift); returns the sum of the new x[i]. With shift = Max(x, n) this is
// the overflow-free numerator of a softmax.
float ExpShiftedSum(float* x, float shift, int64_t n);

}  // namespace lightvlm::ops
