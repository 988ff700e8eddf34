// Linear layers with 4-bit weights (layout and scales in ops.h). Decode steps read the packed
// weights once: each vector of bytes is split into its low and high nibbles in registers, widened
// to float32 and multiplied with float32 x, and each group's sum is scaled once; the zero point
// (q - 8) is applied per group through the group's sum of x, so the inner loop has no subtract.
// Prefill dequantises tiles of weight rows to bf16 and hands them to the bf16 matrix product, so
// the CPU's matrix units do the arithmetic. Highway compiles this file once per SIMD target and
// picks the best one of the running CPU at the first call.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "base/dtype.h"
#include "base/error.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/gemm_q4.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 lanes: a group's 16 bytes are then whole vectors of bytes on every target.
using FloatTag = hn::CappedTag<float, 16>;
using FloatVec = hn::Vec<FloatTag>;

constexpr int64_t kHalfGroup = kQ4Group / 2;

struct Q4Product {
  const float* x;  // [m, k]
  int64_t k;
  const float* x_group_sums;  // [m, Q4Groups(k)]: each group's sum of x, for the zero point
  const uint8_t* w;           // [n, k / 2]
  const uint16_t* scales;     // [n, Q4Groups(k)], bf16
  int64_t n;
  const float* bias;  // [n] or null
  float* y;           // [m, n]
};

// One group of R rows of x: `bytes` holds kHalfGroup bytes, low[r] and high[r] the kHalfGroup
// values of row r's x that the low and the high nibbles multiply. Gives each row's q . x, from
// two sums so that consecutive multiply-adds do not wait on each other.
template <int R>
void DotGroup(const uint8_t* bytes, const float* const* low, const float* const* high,
              FloatVec* dots) {
  const FloatTag d;
  const hn::Rebind<uint8_t, FloatTag> d8;
  const hn::Rebind<int32_t, FloatTag> d32;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  FloatVec low_sums[R], high_sums[R];
  for (int r = 0; r < R; ++r) low_sums[r] = high_sums[r] = hn::Zero(d);
  for (int64_t i = 0; i < kHalfGroup; i += lanes) {
    const auto packed = hn::LoadU(d8, bytes + i);
    const FloatVec low_q = hn::ConvertTo(d, hn::PromoteTo(d32, hn::And(packed, hn::Set(d8, 15))));
    const FloatVec high_q = hn::ConvertTo(d, hn::PromoteTo(d32, hn::ShiftRight<4>(packed)));
    for (int r = 0; r < R; ++r) {
      low_sums[r] = hn::MulAdd(low_q, hn::LoadU(d, low[r] + i), low_sums[r]);
      high_sums[r] = hn::MulAdd(high_q, hn::LoadU(d, high[r] + i), high_sums[r]);
    }
  }
  for (int r = 0; r < R; ++r) dots[r] = hn::Add(low_sums[r], high_sums[r]);
}

// y[rows r0..r0+R, column j]: R rows of x share every unpacked weight vector of row j.
template <int R>
void DotRowsOfX(const Q4Product& p, int64_t r0, int64_t j) {
  const FloatTag d;
  const int64_t groups = Q4Groups(p.k), full_groups = p.k / kQ4Group;
  const uint8_t* w = p.w + j * (p.k / 2);
  const uint16_t* scales = p.scales + j * groups;
  // Even and odd groups into separate totals: one chain of scaled adds would wait on itself.
  FloatVec totals[R][2];
  float zero_point[R] = {};
  for (int r = 0; r < R; ++r) totals[r][0] = totals[r][1] = hn::Zero(d);
  const float* low[R];
  const float* high[R];
  FloatVec dots[R];
  const auto add_group = [&](int64_t g) {
    const float scale = BF16ToF32(scales[g]);
    for (int r = 0; r < R; ++r) {
      totals[r][g & 1] = hn::MulAdd(hn::Set(d, scale), dots[r], totals[r][g & 1]);
      zero_point[r] += scale * p.x_group_sums[(r0 + r) * groups + g];
    }
  };
  for (int64_t g = 0; g < full_groups; ++g) {
    // The next weight row into L2 while this one computes, as in gemm_int8.cc.
    __builtin_prefetch(w + p.k / 2 + g * kHalfGroup, 0, 2);
    for (int r = 0; r < R; ++r) {
      low[r] = p.x + (r0 + r) * p.k + g * kQ4Group;
      high[r] = low[r] + kHalfGroup;
    }
    DotGroup<R>(w + g * kHalfGroup, low, high, dots);
    add_group(g);
  }
  if (full_groups < groups) {
    // A shorter last group, zero-padded through local buffers so that no load reads past an array.
    const int64_t half = (p.k - full_groups * kQ4Group) / 2;
    uint8_t bytes[kHalfGroup] = {};
    std::copy_n(w + full_groups * kHalfGroup, half, bytes);
    float padded[R][2][kHalfGroup] = {};
    for (int r = 0; r < R; ++r) {
      const float* x = p.x + (r0 + r) * p.k + full_groups * kQ4Group;
      std::copy_n(x, half, padded[r][0]);
      std::copy_n(x + half, half, padded[r][1]);
      low[r] = padded[r][0];
      high[r] = padded[r][1];
    }
    DotGroup<R>(bytes, low, high, dots);
    add_group(full_groups);
  }
  const float bias = p.bias != nullptr ? p.bias[j] : 0.0f;
  for (int r = 0; r < R; ++r) {
    const float dot = hn::GetLane(hn::SumOfLanes(d, hn::Add(totals[r][0], totals[r][1])));
    p.y[(r0 + r) * p.n + j] = dot - 8 * zero_point[r] + bias;
  }
}

// Output columns [begin, end) of y for every row of x, in tiles of columns whose weights stay in
// cache while every block of up to 4 rows of x passes over them.
void LinearQ4Columns(const float* x, int64_t m, int64_t k, const float* x_group_sums,
                     const uint8_t* w, const uint16_t* scales, int64_t n, const float* bias,
                     float* y, int64_t begin, int64_t end) {
  const Q4Product p{x, k, x_group_sums, w, scales, n, bias, y};
  const int64_t tile = std::max<int64_t>(1, (256 << 10) / (k / 2));
  for (int64_t first = begin; first < end; first += tile) {
    const int64_t last = std::min(end, first + tile);
    for (int64_t r0 = 0; r0 < m; r0 += 4) {
      for (int64_t j = first; j < last; ++j) {
        switch (std::min<int64_t>(4, m - r0)) {
          case 1:
            DotRowsOfX<1>(p, r0, j);
            break;
          case 2:
            DotRowsOfX<2>(p, r0, j);
            break;
          case 3:
            DotRowsOfX<3>(p, r0, j);
            break;
          default:
            DotRowsOfX<4>(p, r0, j);
            break;
        }
      }
    }
  }
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {
namespace {

// Products of at most this many rows (decode steps) take the register kernel; more rows are
// worth the bf16 matrix product (its weight repacking and its rounding of x to bf16).
constexpr int64_t kDecodeRows = 8;
// Weights dequantised per tile of the prefill path: a few MB of bf16, so that the matrix product
// amortises its per-call costs while the tile stays in the last-level cache.
constexpr int64_t kTileWeights = int64_t{1} << 21;

// Rows [begin, end) of w as bf16, [end - begin, k].
void DequantiseRowsToBf16(const uint8_t* w, const uint16_t* scales, int64_t k, int64_t begin,
                          int64_t end, uint16_t* out) {
  const int64_t groups = Q4Groups(k);
  for (int64_t j = begin; j < end; ++j) {
    uint16_t* row = out + (j - begin) * k;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = g * kQ4Group, half = std::min(kQ4Group, k - start) / 2;
      const uint8_t* bytes = w + j * (k / 2) + start / 2;
      const float scale = BF16ToF32(scales[j * groups + g]);
      for (int64_t b = 0; b < half; ++b) {
        row[start + b] = F32ToBF16(scale * static_cast<float>((bytes[b] & 15) - 8));
        row[start + half + b] = F32ToBF16(scale * static_cast<float>((bytes[b] >> 4) - 8));
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

void LinearQ4(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
              const uint16_t* scales, int64_t n, const float* bias, float* y) {
  Check(m > 0 && k > 0 && n > 0, "LinearQ4: sizes must be positive, got m=", m, " k=", k, " n=", n);
  CheckEven("LinearQ4", k);
  if (m > kDecodeRows) return LinearQ4Prefill(pool, x, m, k, w, scales, n, bias, y);
  const int64_t groups = Q4Groups(k);
  std::vector<float> x_group_sums(m * groups, 0.0f);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t i = 0; i < k; ++i) x_group_sums[r * groups + i / kQ4Group] += x[r * k + i];
  }
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        HWY_DYNAMIC_DISPATCH(LinearQ4Columns)
        (x, m, k, x_group_sums.data(), w, scales, n, bias, y, begin, end);
      },
      64);
}

void QuantizeQ4(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scales) {
  CheckEven("QuantizeQ4", k);
  const int64_t groups = Q4Groups(k);
  std::vector<int> codes(kQ4Group), best_codes(kQ4Group);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t group = 0; group < groups; ++group) {
      const int64_t start = group * kQ4Group, length = std::min(kQ4Group, k - start);
      const float* values = w + row * k + start;
      // The value of largest magnitude, with its sign: it goes to code 0 (-8), the far end.
      float extreme = 0;
      for (int64_t i = 0; i < length; ++i) {
        if (std::fabs(values[i]) > std::fabs(extreme)) extreme = values[i];
      }
      // Rounds the group with `scale` into `codes` and gives the squared error.
      const auto round_with = [&](float scale) {
        double error = 0;
        for (int64_t i = 0; i < length; ++i) {
          codes[i] = std::clamp(static_cast<int>(std::lround(values[i] / scale)), -8, 7);
          const double difference = double(codes[i]) * scale - values[i];
          error += difference * difference;
        }
        return error;
      };
      uint16_t best_scale = F32ToBF16(1.0f);
      double best_error = std::numeric_limits<double>::infinity();
      std::fill(best_codes.begin(), best_codes.end(), 0);
      for (int step = 0; extreme != 0 && step < 7; ++step) {
        const float first = BF16ToF32(F32ToBF16(extreme * (0.8f + 0.05f * step) / -8));
        round_with(first);
        double dot = 0, square = 0;
        for (int64_t i = 0; i < length; ++i) {
          dot += double(codes[i]) * values[i];
          square += double(codes[i]) * codes[i];
        }
        const uint16_t refined = F32ToBF16(static_cast<float>(dot / square));
        if (BF16ToF32(refined) == 0 || !std::isfinite(BF16ToF32(refined))) continue;
        const double error = round_with(BF16ToF32(refined));
        if (error < best_error) {
          best_error = error;
          best_scale = refined;
          best_codes = codes;
        }
      }
      scales[row * groups + group] = best_scale;
      const int64_t half = length / 2;
      uint8_t* bytes = q + row * (k / 2) + start / 2;
      for (int64_t b = 0; b < half; ++b) {
        bytes[b] = static_cast<uint8_t>((best_codes[b] + 8) | (best_codes[half + b] + 8) << 4);
      }
    }
  }
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
