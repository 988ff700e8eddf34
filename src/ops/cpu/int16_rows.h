// Rows of x rounded to int16, the activations of the weight-only quantised decode kernels
// (gemm_int8.cc, gemm_q4.cc): with x in int16 a vector of weights needs one widening to int16 and
// one integer multiply-add of pairs, where float32 x would need widenings, conversions and float
// multiply-adds that bound a core at one row. Internal to ops/cpu.
#pragma once

#include <cstdint>
#include <vector>

namespace lightvlm::ops {

// Rows of x as int16 with one scale per row (symmetric: the largest magnitude maps to 32767),
// each row zero-padded so that a vector of `lanes` values loaded from any column < k stays
// inside its row. int16 keeps x to 1 / 65534 of its row's largest magnitude, finer than bf16 for
// all but the largest values.
struct QuantizedRows {
  std::vector<int16_t> values;  // [m, padded_k]
  std::vector<float> scales;    // [m]: row r stands for values[r, i] * scales[r]
  int64_t padded_k = 0;
};

// `lanes` comes from the target that will run the kernel, not from a Highway constant of code
// outside the kernels: there HWY_MAX_BYTES is the baseline target's (8 or 16 bytes) while an
// AVX-512 kernel loads 64, which read past the rows whenever k % 32 != 0.
QuantizedRows QuantizeRowsInt16(const float* x, int64_t m, int64_t k, int64_t lanes);

}  // namespace lightvlm::ops
