// Elementwise activations, in float as the reference computes them.
#include <cmath>
#include <numbers>

#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

// x / (1 + exp(-x)) rather than x * sigmoid(x): the form PyTorch computes, one rounding fewer.
void Silu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
}

void Gelu(float* x, int64_t n) {
  const float inv_sqrt2 = static_cast<float>(1.0 / std::numbers::sqrt2);
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * inv_sqrt2));
}

void GeluTanh(float* x, int64_t n) {
  const float sqrt_2_over_pi = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
  }
}

void QuickGelu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= Sigmoid(1.702f * x[i]);
}

void SiluMul(ThreadPool& pool, float* gate, const float* up, int64_t n) {
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        Silu(gate + begin, end - begin);
        for (int64_t i = begin; i < end; ++i) gate[i] *= up[i];
      },
      16384);
}

}  // namespace lightvlm::ops
