// Decode-step products (a few rows of x) with bf16 weights on CPUs with AVX512-BF16
// (gemm_bf16_rows.cc). Internal to ops/cpu: LinearBf16 picks it for decode steps.
#pragma once

#include <cstdint>

namespace lightvlm::ops {

// Rows of x the kernel keeps in registers at once; more rows pass over the weights in blocks.
inline constexpr int64_t kFewRowsMax = 8;

// Whether the running CPU has AVX512-BF16's dot product (checked once).
bool HasBf16DotProduct();

// y[r, j] = x[r, :] . w[j, :] + bias[j] for every row r < m of x and j in [begin, end), with x
// and w in bf16 (x: [m, k], w: [n, k]) and y float32 with row stride ldy; bias may be null.
// Call only when HasBf16DotProduct().
void LinearBf16FewRows(const uint16_t* x, int64_t m, int64_t k, const uint16_t* w, int64_t begin,
                       int64_t end, const float* bias, float* y, int64_t ldy);

}  // namespace lightvlm::ops
