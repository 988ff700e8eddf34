// Linear layers with 4-bit weights (layout and scales in ops.h). Decode steps take
// gemm_q4_vnni.cc's byte dot products where the CPU has AVX512-VNNI; elsewhere this file's route
// reads the packed weights once, with x rounded to int16 per row as int8's decode does
// (int16_rows.h): each vector of bytes is split into its low and high nibbles in registers,
// widened to int16 and multiplied with x in pairs into int32 lanes (one integer multiply-add of
// pairs per vector of weights, where float32 x took widenings to float32, conversions and float
// multiply-adds, and bound a core at 14.4 G weights/s); each group's int32 sums are converted and
// scaled once, and the group's min is applied through the group's sum of x, so the inner loop has
// no float arithmetic.
// At batch 1 four rows of weights go together, sharing the loads of x.
// Prefill dequantises tiles of weight rows to bf16 and hands them to the bf16 matrix product, so
// the CPU's matrix units do the arithmetic. Highway compiles this file once per SIMD target and
// picks the best one of the running CPU at the first call.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <vector>

#include "base/dtype.h"
#include "base/error.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_q4_decode.h"
#include "ops/cpu/int16_rows.h"
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/gemm_q4.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/row_blocks-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 int16 lanes: a group's 16 bytes are then whole vectors of bytes on every target, the
// low nibbles of bytes i.. meeting x at columns i.. of the group and the high nibbles at 16 + i..
// (On Zen 4 a 512-bit vector costs two 256-bit ones, so wider vectors would gain nothing there.)
using Int16Tag = hn::CappedTag<int16_t, 16>;
using Int32Tag = hn::Repartition<int32_t, Int16Tag>;
using Int32Vec = hn::Vec<Int32Tag>;
using FloatTag = hn::Rebind<float, Int32Tag>;
using FloatVec = hn::Vec<FloatTag>;

constexpr int64_t kHalfGroup = kQ4Group / 2;

// BF16ToF32 inline: a call inside the loop over groups would make the compiler spill every
// vector register around it (measured: 4x slower).
inline float Widen(uint16_t bits) { return std::bit_cast<float>(uint32_t{bits} << 16); }

struct Q4Product {
  const int16_t* x;       // [m, padded_k]: x rounded to int16 (int16_rows.h)
  const float* x_scales;  // [m]: row r of x stands for x[r, i] * x_scales[r]
  int64_t k, padded_k;
  const float* x_group_sums;  // [m, Q4Groups(k)]: each group's sum of the rounded x, for its min
  const uint8_t* w;           // [n, k / 2]
  const uint16_t* scales;     // [n, Q4Groups(k), 2]: bf16 (scale, min) pairs
  int64_t n;
  const float* bias;  // [n] or null
  float* y;           // [m, n]
};

// One group of R rows of x and C rows of weights: bytes[c] holds row c's kHalfGroup bytes, low[r]
// and high[r] the kHalfGroup values of row r's x that the low and the high nibbles multiply.
// Gives each q . x in int32 lanes: exact, as 32 products of at most 15 x 32767 stay below 2^24
// (and so convert to float32 exactly too). Always inlined: as a call, its vectors of sums would
// go through memory (measured: half the speed).
template <int R, int C>
HWY_INLINE void DotGroup(const uint8_t* const* bytes, const int16_t* const* low,
                         const int16_t* const* high, Int32Vec (*dots)[C]) {
  const Int16Tag d16;
  const Int32Tag d32;
  const hn::Rebind<uint8_t, Int16Tag> d8;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d16));
  // Highway's multiply-add of pairs may leave half of the products in `odd` (the emulated
  // targets); RearrangeToOddPlusEven adds them back, at no cost where they are already in `even`.
  Int32Vec even[R][C], odd[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) even[r][c] = odd[r][c] = hn::Zero(d32);
  }
  for (int64_t i = 0; i < kHalfGroup; i += lanes) {
    for (int c = 0; c < C; ++c) {
      const auto packed = hn::PromoteTo(d16, hn::LoadU(d8, bytes[c] + i));
      const auto low_q = hn::And(packed, hn::Set(d16, 15));
      const auto high_q = hn::ShiftRight<4>(packed);
      for (int r = 0; r < R; ++r) {
        even[r][c] = hn::ReorderWidenMulAccumulate(d32, low_q, hn::LoadU(d16, low[r] + i),
                                                   even[r][c], odd[r][c]);
        even[r][c] = hn::ReorderWidenMulAccumulate(d32, high_q, hn::LoadU(d16, high[r] + i),
                                                   even[r][c], odd[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) dots[r][c] = hn::RearrangeToOddPlusEven(even[r][c], odd[r][c]);
  }
}

// Groups whose bf16 scales and mins are widened together, a vector of (scale, min) pairs at a
// time: each group's scale is then a broadcast from memory, and the mins enter through one
// multiply-add per vector of groups with their sums of x. (Widened one group at a time, the
// scalar shifts, moves and broadcasts were a third of the loop's instructions.)
constexpr int64_t kGroupBlock = 8;
// As many lanes as FloatTag (at most 8 on every target), so that the mins' sums and the groups'
// totals add up in one vector.
using PairTag = hn::Rebind<uint32_t, FloatTag>;

// y[rows r0..r0+R, columns j..j+C]: R rows of x share every unpacked weight vector of rows j..j+C
// of w, and those C rows every load of x.
template <int R, int C>
void DotRowsOfX(const Q4Product& p, int64_t r0, int64_t j) {
  const FloatTag d;
  const PairTag du;
  const auto block_lanes = static_cast<int64_t>(hn::Lanes(du));
  const int64_t groups = Q4Groups(p.k), full_groups = p.k / kQ4Group;
  const uint8_t* w[C];
  const uint16_t* scales[C];
  for (int c = 0; c < C; ++c) {
    w[c] = p.w + (j + c) * (p.k / 2);
    scales[c] = p.scales + (j + c) * groups * 2;
  }
  const float* x_group_sums[R];
  for (int r = 0; r < R; ++r) x_group_sums[r] = p.x_group_sums + (r0 + r) * groups;
  // Even and odd groups into separate totals (slot S, fixed at compile time so that the totals
  // stay in registers): one chain of scaled adds would wait on itself at every group.
  FloatVec totals[R][C][2], min_sums[R][C];
  float tail_mins[R][C] = {};
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) totals[r][c][0] = totals[r][c][1] = min_sums[r][c] = hn::Zero(d);
  }
  float block_scales[C][kGroupBlock];
  const auto add_group = [&]<int S>(int64_t g, const uint8_t* const* bytes,
                                    const int16_t* const* low, const int16_t* const* high) {
    Int32Vec dots[R][C];
    DotGroup<R, C>(bytes, low, high, dots);
    for (int c = 0; c < C; ++c) {
      const auto scale = hn::Set(d, block_scales[c][g % kGroupBlock]);
      for (int r = 0; r < R; ++r) {
        totals[r][c][S] = hn::MulAdd(scale, hn::ConvertTo(d, dots[r][c]), totals[r][c][S]);
      }
    }
  };
  const auto add_full_group = [&]<int S>(int64_t g) {
    const int16_t* low[R];
    const int16_t* high[R];
    for (int r = 0; r < R; ++r) {
      low[r] = p.x + (r0 + r) * p.padded_k + g * kQ4Group;
      high[r] = low[r] + kHalfGroup;
    }
    const uint8_t* bytes[C];
    for (int c = 0; c < C; ++c) bytes[c] = w[c] + g * kHalfGroup;
    add_group.template operator()<S>(g, bytes, low, high);
  };
  int64_t g = 0;
  for (; g + kGroupBlock <= full_groups; g += kGroupBlock) {
    // The next weight rows into L2 while these compute, as in gemm_int8.cc.
    const uint8_t* next = w[C - 1] + p.k / 2 + g * kHalfGroup;
    for (int c = 0; c < C; ++c) {
      __builtin_prefetch(next + c * (p.k / 2), 0, 2);
      __builtin_prefetch(next + c * (p.k / 2) + 64, 0, 2);
    }
    for (int c = 0; c < C; ++c) {
      for (int64_t l = 0; l < kGroupBlock; l += block_lanes) {
        // A pair as one little-endian uint32: scale in the low half, min in the high half. (The
        // loads copy bytes on every target, so the other type and alignment are safe.)
        const auto pairs =
            hn::LoadU(du, reinterpret_cast<const uint32_t*>(scales[c] + 2 * (g + l)));
        hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(pairs)), d, block_scales[c] + l);
        const auto mins = hn::BitCast(d, hn::And(pairs, hn::Set(du, 0xFFFF0000u)));
        for (int r = 0; r < R; ++r) {
          min_sums[r][c] = hn::MulAdd(mins, hn::LoadU(d, x_group_sums[r] + g + l), min_sums[r][c]);
        }
      }
    }
    for (int64_t i = 0; i < kGroupBlock; i += 2) {
      add_full_group.template operator()<0>(g + i);
      add_full_group.template operator()<1>(g + i + 1);
    }
  }
  // The last groups, fewer than a block: scales and mins widened one at a time.
  for (int64_t t = g; t < groups; ++t) {
    for (int c = 0; c < C; ++c) {
      block_scales[c][t % kGroupBlock] = Widen(scales[c][2 * t]);
      const float min = Widen(scales[c][2 * t + 1]);
      for (int r = 0; r < R; ++r) tail_mins[r][c] += min * x_group_sums[r][t];
    }
  }
  for (; g < full_groups; ++g) add_full_group.template operator()<0>(g);
  if (full_groups < groups) {
    // A shorter last group, zero-padded through local buffers so that no load reads past an array.
    const int64_t half = (p.k - full_groups * kQ4Group) / 2;
    uint8_t padded_bytes[C][kHalfGroup] = {};
    const uint8_t* bytes[C];
    for (int c = 0; c < C; ++c) {
      std::copy_n(w[c] + full_groups * kHalfGroup, half, padded_bytes[c]);
      bytes[c] = padded_bytes[c];
    }
    int16_t padded[R][2][kHalfGroup] = {};
    const int16_t* low[R];
    const int16_t* high[R];
    for (int r = 0; r < R; ++r) {
      const int16_t* x = p.x + (r0 + r) * p.padded_k + full_groups * kQ4Group;
      std::copy_n(x, half, padded[r][0]);
      std::copy_n(x + half, half, padded[r][1]);
      low[r] = padded[r][0];
      high[r] = padded[r][1];
    }
    add_group.template operator()<1>(full_groups, bytes, low, high);
  }
  for (int c = 0; c < C; ++c) {
    const float bias = p.bias != nullptr ? p.bias[j + c] : 0.0f;
    for (int r = 0; r < R; ++r) {
      const FloatVec dots = hn::Add(totals[r][c][0], totals[r][c][1]);
      const FloatVec sums = hn::MulAdd(dots, hn::Set(d, p.x_scales[r0 + r]), min_sums[r][c]);
      p.y[(r0 + r) * p.n + j + c] = hn::GetLane(hn::SumOfLanes(d, sums)) + tail_mins[r][c] + bias;
    }
  }
}

// Output columns [begin, end) of y for every row of x.
void LinearQ4Columns(const int16_t* x, const float* x_scales, int64_t m, int64_t k,
                     int64_t padded_k, const float* x_group_sums, const uint8_t* w,
                     const uint16_t* scales, int64_t n, const float* bias, float* y, int64_t begin,
                     int64_t end) {
  const Q4Product p{x, x_scales, k, padded_k, x_group_sums, w, scales, n, bias, y};
  if (m == 1) {
    // Batch-1 decode: four rows of weights at a time, whose products share the loads of x and
    // overlap their ends and starts (measured on one core, 1536 x 576: 21.9 G weights/s one row
    // at a time, 27.3 two, 31.8 four).
    int64_t j = begin;
    for (; j + 4 <= end; j += 4) DotRowsOfX<1, 4>(p, 0, j);
    for (; j + 2 <= end; j += 2) DotRowsOfX<1, 2>(p, 0, j);
    if (j < end) DotRowsOfX<1, 1>(p, 0, j);
    return;
  }
  ForEachRowBlock(m, k / 2, begin, end,
                  [&]<int R>(int64_t r0, int64_t j) { DotRowsOfX<R, 1>(p, r0, j); });
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {
namespace {

// Products of at most this many rows (decode steps) take the register kernel; more rows are
// worth the bf16 matrix product (its weight repacking and its rounding of x to bf16).
constexpr int64_t kDecodeRows = 8;
// Weights dequantised per tile of the prefill path (32 MB of bf16): every call of the matrix
// product repacks its weights and has fixed costs, so small tiles cost more than the
// dequantisation (measured at 256 x 8960 x 1536: 212 ms in tiles of 2M weights, 83 ms in one,
// bf16 weights 47 ms).
constexpr int64_t kTileWeights = int64_t{1} << 24;

// Rows [begin, end) of w as bf16, [end - begin, k].
void DequantiseRowsToBf16(const uint8_t* w, const uint16_t* scales, int64_t k, int64_t begin,
                          int64_t end, uint16_t* out) {
  const int64_t groups = Q4Groups(k);
  for (int64_t j = begin; j < end; ++j) {
    uint16_t* row = out + (j - begin) * k;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = g * kQ4Group, half = std::min(kQ4Group, k - start) / 2;
      const uint8_t* bytes = w + j * (k / 2) + start / 2;
      const float scale = BF16ToF32(scales[(j * groups + g) * 2]);
      const float min = BF16ToF32(scales[(j * groups + g) * 2 + 1]);
      // A group's weights take 16 values: converted once each, then looked up.
      uint16_t values[16];
      for (int q = 0; q < 16; ++q) values[q] = F32ToBF16(scale * static_cast<float>(q) + min);
      for (int64_t b = 0; b < half; ++b) {
        row[start + b] = values[bytes[b] & 15];
        row[start + half + b] = values[bytes[b] >> 4];
      }
    }
  }
}

void LinearQ4Prefill(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
                     const uint16_t* scales, int64_t n, const float* bias, float* y) {
  const std::vector<uint16_t> x_bf16 = RoundToBf16(pool, x, m * k);
  const int64_t tile = std::min(n, std::max<int64_t>(64, kTileWeights / k));
  std::vector<uint16_t> weights(tile * k);
  for (int64_t first = 0; first < n; first += tile) {
    const int64_t rows = std::min(tile, n - first);
    pool.ParallelFor(
        rows,
        [&](int64_t begin, int64_t end) {
          DequantiseRowsToBf16(w, scales, k, first + begin, first + end,
                               weights.data() + begin * k);
        },
        std::max<int64_t>(1, 8192 / k));
    MatmulBf16(pool, x_bf16.data(), m, k, weights.data(), rows,
               bias != nullptr ? bias + first : nullptr, y + first, n);
  }
}

void CheckEven(const char* op, int64_t k) {
  Check(k % 2 == 0, op, ": 4-bit weights pack two columns a byte, so k must be even, got k=", k);
}

}  // namespace

HWY_EXPORT(LinearQ4Columns);

void LinearQ4DecodeInt16(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
                         const uint16_t* scales, int64_t n, const float* bias, float* y) {
  // The kernel reads whole groups of x and copies a short last group: no padding needed.
  const QuantizedRows rows = QuantizeRowsInt16(x, m, k, /*lanes=*/1);
  // Sums of the rounded x, so that the product is that of the rounded x throughout; exact in
  // int32 (32 values of at most 32767).
  const int64_t groups = Q4Groups(k);
  std::vector<float> x_group_sums(m * groups);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int16_t* values = rows.values.data() + r * rows.padded_k + g * kQ4Group;
      int32_t sum = 0;
      for (int64_t i = 0; i < std::min(kQ4Group, k - g * kQ4Group); ++i) sum += values[i];
      x_group_sums[r * groups + g] = static_cast<float>(sum) * rows.scales[r];
    }
  }
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        HWY_DYNAMIC_DISPATCH(LinearQ4Columns)
        (rows.values.data(), rows.scales.data(), m, k, rows.padded_k, x_group_sums.data(), w,
         scales, n, bias, y, begin, end);
      },
      64);
}

void LinearQ4(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
              const uint16_t* scales, int64_t n, const float* bias, float* y) {
  Check(m > 0 && k > 0 && n > 0, "LinearQ4: sizes must be positive, got m=", m, " k=", k, " n=", n);
  CheckEven("LinearQ4", k);
  if (m > kDecodeRows) return LinearQ4Prefill(pool, x, m, k, w, scales, n, bias, y);
  if (CpuHasAvx512Vnni()) return LinearQ4DecodeInt8Groups(pool, x, m, k, w, scales, n, bias, y);
  LinearQ4DecodeInt16(pool, x, m, k, w, scales, n, bias, y);
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
