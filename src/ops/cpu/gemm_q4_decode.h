// The two routes of LinearQ4's decode steps (a few rows of x against 4-bit weights), declared
// apart so that the tests can hold each to its own rounding of x. Internal to ops/cpu.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace lightvlm::ops {

// x rounded to int16 per row (int16_rows.h), Highway on every SIMD target (gemm_q4.cc).
void LinearQ4DecodeInt16(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
                         const uint16_t* scales, int64_t n, const float* bias, float* y);

// Whether this CPU runs LinearQ4DecodeInt8Groups: x86-64 with AVX512-VNNI (and F, BW, VL, DQ).
bool CpuHasAvx512Vnni();

// x rounded per group of kQ4Group columns to two planes of int8, x ~ step * (256 * q1 + q2):
// q1 = x / (256 * step) to nearest (ties to even) with 256 * step = the group's largest magnitude
// / 127 (1 for a group of zeros), q2 = the remainder / step to nearest, clamped to +-127.
// Multiplied with the nibbles by AVX512-VNNI's byte dot products (gemm_q4_vnni.cc). Fails where
// CpuHasAvx512Vnni() is false.
void LinearQ4DecodeInt8Groups(ThreadPool& pool, const float* x, int64_t m, int64_t k,
                              const uint8_t* w, const uint16_t* scales, int64_t n,
                              const float* bias, float* y);

}  // namespace lightvlm::ops
