// The innermost loops of the CPU kernels, vectorised with Highway for the best SIMD target of
// the running CPU (chosen once, at the first call). Callers see plain functions only.
#pragma once

#include <cstdint>

namespace lightvlm::ops {

// Sum of a[i] * b[i], accumulated in float.
float Dot(const float* a, const float* b, int64_t n);

// y[i] += scale * x[i].
void AddScaled(const float* x, float scale, float* y, int64_t n);

// out[j] = scale * Dot(a, rows + j * stride, n) for j < count: one dispatch for many short dot
// products (attention's logits), which per-row calls would spend most of their time entering.
void DotRows(const float* a, const float* rows, int64_t stride, int64_t count, int64_t n,
             float scale, float* out);

// y[i] += sum over j < count of weights[j] * rows[j * stride + i] (attention's weighted sum of
// values; masked keys weigh 0). The rows must be finite: a zero weight may still multiply one.
void AddScaledRows(const float* rows, int64_t stride, const float* weights, int64_t count,
                   int64_t n, float* y);

// x[i] *= scale.
void Scale(float* x, float scale, int64_t n);

// Largest of x[0..n); -infinity when n == 0.
float Max(const float* x, int64_t n);

// x[i] = exp(x[i] - shift); returns the sum of the new x[i]. With shift = Max(x, n) this is
// the overflow-free numerator of a softmax.
float ExpShiftedSum(float* x, float shift, int64_t n);

}  // namespace lightvlm::ops
