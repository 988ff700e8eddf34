// The parts of LinearBf16 (gemm_bf16.cc) that LinearQ4's prefill reuses on tiles of dequantised
// weights. Internal to ops/cpu.
#pragma once

#include <cstdint>
#include <vector>

#include "base/thread_pool.h"

namespace lightvlm::ops {

// x [count] rounded to bf16 (nearest even), on the pool's threads.
std::vector<uint16_t> RoundToBf16(ThreadPool& pool, const float* x, int64_t count);

// y[m, n] = x[m, k] * w[n, k]^T + bias[n] with x and w in bf16, bias (may be null) and y in
// float32, rows of y ldy apart; through oneDNN's matmul on as many OpenMP threads as the pool has.
void MatmulBf16(ThreadPool& pool, const uint16_t* x, int64_t m, int64_t k, const uint16_t* w,
                int64_t n, const float* bias, float* y, int64_t ldy);

}  // namespace lightvlm::ops
