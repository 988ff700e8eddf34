// Decode-step products with bfloat16 weights: a few rows of x (one per sequence of a batch)
// against every weight row, with AVX512-BF16's dot-product instruction (vdpbf16ps: 32 products
// of bf16 pairs per instruction, summed into 16 float32 lanes). The weight stays in its
// nn.Linear layout [n, k]: the pairs the instruction multiplies are neighbours along k in both
// operands, so nothing is repacked (a GEMM library repacks the weight on every call, which at a
// batch of 8 costs about as much as the product).
// Highway 1.0.3 (Debian 12) has no bf16 dot-product operation, hence the intrinsics here,
// compiled for that target alone and called only when the running CPU reports it.

// GCC 12 warns inside its own AVX-512 headers (GCC bug 105593, "__Y is used uninitialized");
// silenced for this file only (clang has no -Wmaybe-uninitialized, and no such bug).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>

#include "ops/cpu/gemm_bf16_rows.h"

#define LIGHTVLM_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace lightvlm::ops {
namespace {

// y[r, j .. j + C) for the R rows of x (bf16, row stride k) and C weight rows from row j.
// (The unroll pragmas let GCC keep all R x C sums in registers: without them it stores every
// sum to the stack on every step.)
template <int R, int C>
LIGHTVLM_AVX512_BF16 void DotTile(const uint16_t* x, int64_t k, const uint16_t* weights, int64_t j,
                                  const float* bias, float* y, int64_t ldy) {
  __m512 sums[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) sums[r][c] = _mm512_setzero_ps();
  }
  for (int64_t i = 0; i < k; i += 32) {
    // The last piece of a row reads only its remaining columns (zeros elsewhere add nothing).
    const __mmask32 mask = k - i >= 32 ? ~__mmask32{0} : (__mmask32{1} << (k - i)) - 1;
    __m512bh w[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      w[c] = (__m512bh)_mm512_maskz_loadu_epi16(mask, weights + (j + c) * k + i);
      // The next tile's rows into L2 while this one computes: with its arithmetic in between,
      // one core keeps too few reads in flight to stream the weight from memory by itself
      // (measured on two cores at 8 rows: 13 to 15 GB/s of weights without, 20 to 23 with).
      _mm_prefetch(reinterpret_cast<const char*>(weights + (j + C + c) * k + i), _MM_HINT_T1);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const auto row = (__m512bh)_mm512_maskz_loadu_epi16(mask, x + r * k + i);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) sums[r][c] = _mm512_dpbf16_ps(sums[r][c], row, w[c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      y[r * ldy + j + c] =
          _mm512_reduce_add_ps(sums[r][c]) + (bias != nullptr ? bias[j + c] : 0.0f);
    }
  }
}

// The R rows of x against weight rows [begin, end).
template <int R>
LIGHTVLM_AVX512_BF16 void DotColumns(const uint16_t* x, int64_t k, const uint16_t* weights,
                                     int64_t begin, int64_t end, const float* bias, float* y,
                                     int64_t ldy) {
  // Three weight rows per pass share each load of x and fill the registers (24 sums, 3 weight
  // vectors, 1 of x at R = 8).
  constexpr int kWeightRows = 3;
  int64_t j = begin;
  for (; j + kWeightRows <= end; j += kWeightRows) {
    DotTile<R, kWeightRows>(x, k, weights, j, bias, y, ldy);
  }
  for (; j < end; ++j) DotTile<R, 1>(x, k, weights, j, bias, y, ldy);
}

}  // namespace

bool HasBf16DotProduct() {
  static const bool has = __builtin_cpu_supports("avx512bf16") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has;
}

void LinearBf16FewRows(const uint16_t* x, int64_t m, int64_t k, const uint16_t* weights,
                       int64_t begin, int64_t end, const float* bias, float* y, int64_t ldy) {
  // Tiles of weight rows small enough to stay in L2 while every block of rows of x passes over
  // them: each weight byte comes from memory once per product, whatever the batch.
  const int64_t tile = std::max<int64_t>(3, (256 << 10) / (2 * k));
  for (int64_t first = begin; first < end; first += tile) {
    const int64_t last = std::min(end, first + tile);
    for (int64_t r0 = 0; r0 < m; r0 += kFewRowsMax) {
      const uint16_t* rows = x + r0 * k;
      float* out = y + r0 * ldy;
      switch (std::min<int64_t>(kFewRowsMax, m - r0)) {
        case 1:
          DotColumns<1>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 2:
          DotColumns<2>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 3:
          DotColumns<3>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 4:
          DotColumns<4>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 5:
          DotColumns<5>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 6:
          DotColumns<6>(rows, k, weights, first, last, bias, out, ldy);
          break;
        case 7:
          DotColumns<7>(rows, k, weights, first, last, bias, out, ldy);
          break;
        default:
          DotColumns<8>(rows, k, weights, first, last, bias, out, ldy);
          break;
      }
    }
  }
}

}  // namespace lightvlm::ops
