// LinearQ4's decode steps with AVX512-VNNI (gemm_q4_decode.h). x is rounded per group of 32
// columns, the weights' own groups, to two planes of int8: x ~ scale * (q1 + q2 / 256), q1 the
// group rounded to steps of its largest magnitude / 127 and q2 the remainder in steps 256 times
// finer, so that x keeps 15 bits per group (the int16 route keeps 16 per row). One plane alone
// (llama.cpp's Q8 activations) moved SmolLM2-135M's prompt logits 5.0% from float32's where the
// int16 route moves them 1.9%. One `vpdpbusd` multiplies 64 nibbles (unsigned bytes) with 64
// values of a plane (signed bytes) and adds them in fours into int32 lanes, so a 512-bit vector
// of packed weights (four groups) takes four of them and a shift and add to join the planes,
// where the int16 route widens the bytes to int16 and needs four multiply-adds of pairs and two
// adds for the same 128 weights. Measured on one Zen 4 core, weights in cache, 256 x 1536: 57
// against 32 G weights/s (one plane: 75). Each lane holds one group's partial sums; the group's
// scale (the weights' times x's) is applied to the lanes before groups mix, and the group's min
// through x's group sum.
// Intrinsics, not Highway: the Highway of Debian 12 (1.0.3) has no byte dot product, and its
// AVX3_DL target also enables AVX-VNNI (VEX), which Zen 4 lacks.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/error.h"
#include "ops/cpu/gemm_q4_decode.h"
#include "ops/ops.h"

#if defined(__x86_64__)
#include <immintrin.h>

// g++ 12's AVX-512 headers fill "undefined" vectors with self-initialised variables, which its
// own -Wuninitialized then reports wherever the intrinsics inline (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#define LIGHTVLM_VNNI_TARGET \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace lightvlm::ops {
namespace {

// Groups whose scale pairs are widened together: one 512-bit load of 16 (scale, min) pairs.
constexpr int64_t kGroupBlock = 16;
constexpr int64_t kHalfGroup = kQ4Group / 2;

// Rows of x in two int8 planes per group, laid out as the weights' bytes: for group g,
// coarse_low[g * 16 + b] meets the low nibble of the group's byte b (column g * 32 + b) and
// coarse_high[g * 16 + b] the high one (column g * 32 + half + b); fine_low and fine_high the
// same for q2. Every array is padded with zeros to whole blocks of groups, so the kernel's loads
// of x never need a mask.
struct Int8Groups {
  int64_t padded_groups = 0;
  std::vector<int8_t> coarse_low, coarse_high, fine_low, fine_high;  // [m, padded_groups * 16]
  std::vector<float> lane_scales;  // [m, padded_groups * 4]: group g's q2 step in lanes 4g..4g+3
  std::vector<float> sums;         // [m, padded_groups]: the group's sum of its rounded x
};

// q1 and q2 of `values` (16 of them, zeros past the group) for the group's step `coarse`.
LIGHTVLM_VNNI_TARGET void SplitPlanes(__m512 values, __m512 coarse, int8_t* q1_out, int8_t* q2_out,
                                      __m512i* sum_out) {
  // cvtps rounds in MXCSR's mode: to nearest, ties to even.
  const __m512i q1 = _mm512_cvtps_epi32(_mm512_div_ps(values, coarse));
  const __m512 remainder = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(q1), coarse, values);
  const __m512 fine = _mm512_mul_ps(coarse, _mm512_set1_ps(1.0f / 256));
  const __m512i q2 = _mm512_max_epi32(
      _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_div_ps(remainder, fine)), _mm512_set1_epi32(127)),
      _mm512_set1_epi32(-127));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q1_out), _mm512_cvtsepi32_epi8(q1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q2_out), _mm512_cvtsepi32_epi8(q2));
  *sum_out = _mm512_add_epi32(*sum_out, _mm512_add_epi32(_mm512_slli_epi32(q1, 8), q2));
}

LIGHTVLM_VNNI_TARGET Int8Groups QuantizeGroups(const float* x, int64_t m, int64_t k) {
  const int64_t groups = Q4Groups(k);
  Int8Groups out;
  out.padded_groups = (groups + kGroupBlock - 1) / kGroupBlock * kGroupBlock;
  for (auto* plane : {&out.coarse_low, &out.coarse_high, &out.fine_low, &out.fine_high}) {
    plane->assign(m * out.padded_groups * kHalfGroup, 0);
  }
  out.lane_scales.assign(m * out.padded_groups * 4, 0.0f);
  out.sums.assign(m * out.padded_groups, 0.0f);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = g * kQ4Group, half = std::min(kQ4Group, k - start) / 2;
      const auto mask = static_cast<__mmask16>((1u << half) - 1);
      const float* column = x + r * k + start;
      const __m512 low = _mm512_maskz_loadu_ps(mask, column);
      const __m512 high = _mm512_maskz_loadu_ps(mask, column + half);
      const float largest =
          _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(low), _mm512_abs_ps(high)));
      const float coarse = largest > 0 ? largest / 127.0f : 1.0f;
      const int64_t at = r * out.padded_groups + g, byte = at * kHalfGroup;
      __m512i sums = _mm512_setzero_si512();
      SplitPlanes(low, _mm512_set1_ps(coarse), &out.coarse_low[byte], &out.fine_low[byte], &sums);
      SplitPlanes(high, _mm512_set1_ps(coarse), &out.coarse_high[byte], &out.fine_high[byte],
                  &sums);
      const float fine = coarse / 256;
      std::fill_n(&out.lane_scales[at * 4], 4, fine);
      out.sums[at] = fine * static_cast<float>(_mm512_reduce_add_epi32(sums));
    }
  }
  return out;
}

struct Product {
  const Int8Groups* x;
  int64_t k, groups;
  const uint8_t* w;        // [n, k / 2]
  const uint16_t* scales;  // [n, groups, 2]: bf16 (scale, min) pairs
  int64_t n;
  const float* bias;  // [n] or null
  float* y;           // [m, n]
};

// y[rows r0..r0+R, columns j..j+C]: R rows of x share every unpacked vector of weights of rows
// j..j+C, and those C rows every load of x. Tails need no scalar code: a row's last bytes and
// last scale pairs come through masked loads (zeros past the row), x is padded.
template <int R, int C>
LIGHTVLM_VNNI_TARGET void DotRows(const Product& p, int64_t r0, int64_t j) {
  const int64_t row_bytes = p.k / 2;
  const Int8Groups& x = *p.x;
  const uint8_t* w[C];
  const uint32_t* pairs[C];
  for (int c = 0; c < C; ++c) {
    w[c] = p.w + (j + c) * row_bytes;
    pairs[c] = reinterpret_cast<const uint32_t*>(p.scales + (j + c) * p.groups * 2);
  }
  __m512 totals[R][C], min_sums[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) totals[r][c] = min_sums[r][c] = _mm512_setzero_ps();
  }
  const __m512i nibble = _mm512_set1_epi8(15);
  // Lanes 4q..4q+3 of a vector of four groups take scale q of the four.
  const __m512i four_lanes_each = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  for (int64_t block = 0; block < p.groups; block += kGroupBlock) {
    const int64_t block_groups = std::min(kGroupBlock, p.groups - block);
    const auto pair_mask = static_cast<__mmask16>((1u << block_groups) - 1);
    __m512 block_scales[C];
    for (int c = 0; c < C; ++c) {
      // The next C rows' scale pairs into L2, as their weights below: a row's pairs are a few
      // short lines that the hardware's prefetcher does not fetch ahead (measured on the
      // Qwen2-1.5B shape's decode step: q4 against int8 1.13-1.23x without, 1.34-1.46x with).
      __builtin_prefetch(pairs[c] + C * p.groups + block, 0, 2);
      const __m512i scale_min = _mm512_maskz_loadu_epi32(pair_mask, pairs[c] + block);
      // A pair as one little-endian uint32: the scale's bf16 bits low, the min's high.
      block_scales[c] = _mm512_castsi512_ps(_mm512_slli_epi32(scale_min, 16));
      const __m512 mins =
          _mm512_castsi512_ps(_mm512_and_si512(scale_min, _mm512_set1_epi32(int32_t(0xFFFF0000u))));
      for (int r = 0; r < R; ++r) {
        const __m512 x_sums = _mm512_loadu_ps(&x.sums[(r0 + r) * x.padded_groups + block]);
        min_sums[r][c] = _mm512_fmadd_ps(mins, x_sums, min_sums[r][c]);
      }
    }
    for (int64_t q = 0; q < block_groups; q += 4) {
      const int64_t g = block + q, first_byte = g * kHalfGroup;
      const int64_t bytes_left = row_bytes - first_byte;
      const __mmask64 byte_mask =
          bytes_left >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes_left) - 1;
      __m512i coarse_low[R], coarse_high[R], fine_low[R], fine_high[R];
      __m512 x_scales[R];
      for (int r = 0; r < R; ++r) {
        const int64_t at = (r0 + r) * x.padded_groups + g, byte = at * kHalfGroup;
        coarse_low[r] = _mm512_loadu_si512(&x.coarse_low[byte]);
        coarse_high[r] = _mm512_loadu_si512(&x.coarse_high[byte]);
        fine_low[r] = _mm512_loadu_si512(&x.fine_low[byte]);
        fine_high[r] = _mm512_loadu_si512(&x.fine_high[byte]);
        x_scales[r] = _mm512_loadu_ps(&x.lane_scales[at * 4]);
      }
      const __m512i scale_lanes = _mm512_add_epi32(four_lanes_each, _mm512_set1_epi32(int32_t(q)));
      for (int c = 0; c < C; ++c) {
        // The same bytes of the next C rows into L2 while these compute, as in gemm_int8.cc.
        __builtin_prefetch(w[c] + C * row_bytes + first_byte, 0, 2);
        const __m512i packed = _mm512_maskz_loadu_epi8(byte_mask, w[c] + first_byte);
        const __m512i low = _mm512_and_si512(packed, nibble);
        const __m512i high = _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble);
        const __m512 w_scales = _mm512_permutexvar_ps(scale_lanes, block_scales[c]);
        for (int r = 0; r < R; ++r) {
          // Exact: 256 * q1 + q2 is at most 32767 in magnitude, so the 32 products of a group
          // stay below 2^24 and convert to float exactly too.
          __m512i coarse = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low, coarse_low[r]);
          coarse = _mm512_dpbusd_epi32(coarse, high, coarse_high[r]);
          __m512i fine = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low, fine_low[r]);
          fine = _mm512_dpbusd_epi32(fine, high, fine_high[r]);
          const __m512i dots = _mm512_add_epi32(_mm512_slli_epi32(coarse, 8), fine);
          totals[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots),
                                         _mm512_mul_ps(w_scales, x_scales[r]), totals[r][c]);
        }
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    const float bias = p.bias != nullptr ? p.bias[j + c] : 0.0f;
    for (int r = 0; r < R; ++r) {
      p.y[(r0 + r) * p.n + j + c] =
          _mm512_reduce_add_ps(_mm512_add_ps(totals[r][c], min_sums[r][c])) + bias;
    }
  }
}

// Output columns [begin, end) for every row of x: at batch 1 four rows of weights at a time,
// sharing the loads of x; more rows of x in blocks of up to four, each over one row of weights.
LIGHTVLM_VNNI_TARGET void Columns(const Product& p, int64_t m, int64_t begin, int64_t end) {
  if (m == 1) {
    int64_t j = begin;
    for (; j + 4 <= end; j += 4) DotRows<1, 4>(p, 0, j);
    for (; j < end; ++j) DotRows<1, 1>(p, 0, j);
    return;
  }
  for (int64_t j = begin; j < end; ++j) {
    int64_t r0 = 0;
    for (; r0 + 4 <= m; r0 += 4) DotRows<4, 1>(p, r0, j);
    switch (m - r0) {
      case 3:
        DotRows<3, 1>(p, r0, j);
        break;
      case 2:
        DotRows<2, 1>(p, r0, j);
        break;
      case 1:
        DotRows<1, 1>(p, r0, j);
        break;
      default:
        break;
    }
  }
}

}  // namespace

bool CpuHasAvx512Vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") &&
                          __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}

void LinearQ4DecodeInt8Groups(ThreadPool& pool, const float* x, int64_t m, int64_t k,
                              const uint8_t* w, const uint16_t* scales, int64_t n,
                              const float* bias, float* y) {
  Check(CpuHasAvx512Vnni(), "LinearQ4DecodeInt8Groups: this CPU has no AVX512-VNNI");
  const Int8Groups groups = QuantizeGroups(x, m, k);
  const Product p{&groups, k, Q4Groups(k), w, scales, n, bias, y};
  pool.ParallelFor(
      n, [&](int64_t begin, int64_t end) { Columns(p, m, begin, end); }, 64);
}

}  // namespace lightvlm::ops

#else  // not x86-64

namespace lightvlm::ops {

bool CpuHasAvx512Vnni() { return false; }

void LinearQ4DecodeInt8Groups(ThreadPool&, const float*, int64_t, int64_t, const uint8_t*,
                              const uint16_t*, int64_t, const float*, float*) {
  Fail("LinearQ4DecodeInt8Groups: AVX512-VNNI exists on x86-64 only");
}

}  // namespace lightvlm::ops

#endif
