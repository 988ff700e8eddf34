// Linear layers with int8 weights and float32 scales per group of input columns (a group of
// in_features is a scale per output channel). Weight-only quantisation: activations stay float32
// and each weight vector is widened to float32 in registers just before its multiply-add, so
// the weights are read from memory at one byte each (decode is bound by those bytes) while the
// arithmetic keeps float32 accuracy. Highway compiles this file once per SIMD target and picks
// the best one of the running CPU at the first call.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "base/error.h"
#include "ops/cpu/int16_rows.h"
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/gemm_int8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/row_blocks-inl.h"
#include "ops/cpu/tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;
using FloatVec = hn::Vec<FloatTag>;

struct Int8Product {
  const float* x;  // [m, k]
  int64_t m, k;
  const int8_t* w;      // [n, k]
  const float* scales;  // [n, k / group]
  int64_t group, n;
  const float* bias;  // [n] or null
  float* y;           // [m, n]
};

FloatVec LoadWidened(FloatTag d, const int8_t* p) {
  const hn::Rebind<int8_t, FloatTag> d8;
  const hn::Rebind<int32_t, FloatTag> d32;
  return hn::ConvertTo(d, hn::PromoteTo(d32, hn::LoadU(d8, p)));
}

// The last count < Lanes columns of a group, zero-padded through local buffers so that no load
// reads past the end of an array.
FloatVec LoadWidenedTail(FloatTag d, const int8_t* p, size_t count) {
  HWY_ALIGN_MAX int8_t buffer[HWY_MAX_BYTES / sizeof(float)] = {};
  std::copy_n(p, count, buffer);
  return LoadWidened(d, buffer);
}

// y[rows r0..r0+R, column j]: R rows of x share every widened weight vector of row j.
template <int R>
void DotRowsOfX(const Int8Product& p, int64_t r0, int64_t j) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const int8_t* w = p.w + j * p.k;
  const float* scales = p.scales + j * (p.k / p.group);
  FloatVec total[R];
  for (int r = 0; r < R; ++r) total[r] = hn::Zero(d);
  for (int64_t start = 0; start < p.k; start += p.group) {
    // Two accumulators per row of x, so that consecutive multiply-adds do not wait on each other
    // (with one row, a single chain would cap a core at a few bytes of weights per cycle).
    FloatVec sum[R], other[R];
    for (int r = 0; r < R; ++r) sum[r] = other[r] = hn::Zero(d);
    const auto count = static_cast<size_t>(p.group);
    size_t i = 0;
    for (; i + 2 * lanes <= count; i += 2 * lanes) {
      const FloatVec first = LoadWidened(d, w + start + i);
      const FloatVec second = LoadWidened(d, w + start + i + lanes);
      for (int r = 0; r < R; ++r) {
        const float* row = p.x + (r0 + r) * p.k + start + i;
        sum[r] = hn::MulAdd(first, hn::LoadU(d, row), sum[r]);
        other[r] = hn::MulAdd(second, hn::LoadU(d, row + lanes), other[r]);
      }
    }
    for (; i + lanes <= count; i += lanes) {
      const FloatVec weights = LoadWidened(d, w + start + i);
      for (int r = 0; r < R; ++r) {
        sum[r] = hn::MulAdd(weights, hn::LoadU(d, p.x + (r0 + r) * p.k + start + i), sum[r]);
      }
    }
    if (i < count) {
      const FloatVec weights = LoadWidenedTail(d, w + start + i, count - i);
      for (int r = 0; r < R; ++r) {
        sum[r] = hn::MulAdd(weights, LoadTail(d, p.x + (r0 + r) * p.k + start + i, count - i, 0.0f),
                            sum[r]);
      }
    }
    const FloatVec scale = hn::Set(d, scales[start / p.group]);
    for (int r = 0; r < R; ++r) total[r] = hn::MulAdd(scale, hn::Add(sum[r], other[r]), total[r]);
  }
  const float bias = p.bias != nullptr ? p.bias[j] : 0.0f;
  for (int r = 0; r < R; ++r) {
    p.y[(r0 + r) * p.n + j] = hn::GetLane(hn::SumOfLanes(d, total[r])) + bias;
  }
}

// Decode rows (m <= kInt16Rows): x quantised to int16 per row (int16_rows.h), so that a weight
// vector needs one widening (int8 to int16) and one multiply-add of pairs (int16 x int16 into
// int32 lanes) per 32 weights, instead of two widenings, two conversions and two float
// multiply-adds: at one row a float32 kernel is bound by those instructions, not by the weights'
// bytes.
struct Int16Rows {
  const int16_t* x;       // [m, padded_k], zero past k
  const float* x_scales;  // [m]: row r of x stands for x[r, i] * x_scales[r]
  int64_t m, k, padded_k;
  const int8_t* w;
  const float* scales;
  int64_t group, n;
  const float* bias;
  float* y;
};

// Products of pairs summed into int32 stay exact for this many columns: each lane adds 2 * 127 *
// 32767 per 32 columns, below 2^31 for 8192 columns; the sums go to float32 more often.
constexpr int64_t kExactColumns = 4096;

template <int R>
void DotInt16Rows(const Int16Rows& p, int64_t r0, int64_t j) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<float, decltype(d32)> df;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d16));
  const int8_t* w = p.w + j * p.k;
  const float* scales = p.scales + j * (p.k / p.group);
  hn::Vec<decltype(df)> total[R];
  for (int r = 0; r < R; ++r) total[r] = hn::Zero(df);
  for (int64_t start = 0; start < p.k;) {
    const int64_t group_end = (start / p.group + 1) * p.group;
    const int64_t end = std::min({group_end, start + kExactColumns, p.k});
    hn::Vec<decltype(d32)> sum[R];
    for (int r = 0; r < R; ++r) sum[r] = hn::Zero(d32);
    int64_t i = start;
    for (; i + lanes <= end; i += lanes) {
      // The next weight row into L2 (locality 2) while this one computes, as in gemm_bf16_rows.cc:
      // int8 rows reached 15 GB/s on two cores without it, 25 with.
      __builtin_prefetch(w + p.k + i, 0, 2);
      const auto weights = hn::PromoteTo(d16, hn::LoadU(d8, w + i));
      for (int r = 0; r < R; ++r) {
        sum[r] = hn::ReorderWidenMulAccumulate(
            d32, weights, hn::LoadU(d16, p.x + (r0 + r) * p.padded_k + i), sum[r], sum[r]);
      }
    }
    if (i < end) {
      HWY_ALIGN_MAX int8_t buffer[HWY_MAX_BYTES / sizeof(int16_t)] = {};
      std::copy_n(w + i, end - i, buffer);
      const auto weights = hn::PromoteTo(d16, hn::Load(d8, buffer));
      for (int r = 0; r < R; ++r) {
        // x is zero past k, and past a group's end the zero weights cancel the next group's x.
        sum[r] = hn::ReorderWidenMulAccumulate(
            d32, weights, hn::LoadU(d16, p.x + (r0 + r) * p.padded_k + i), sum[r], sum[r]);
      }
    }
    const auto scale = hn::Set(df, scales[start / p.group]);
    for (int r = 0; r < R; ++r) total[r] = hn::MulAdd(scale, hn::ConvertTo(df, sum[r]), total[r]);
    start = end;
  }
  const float bias = p.bias != nullptr ? p.bias[j] : 0.0f;
  for (int r = 0; r < R; ++r) {
    p.y[(r0 + r) * p.n + j] = hn::GetLane(hn::SumOfLanes(df, total[r])) * p.x_scales[r0 + r] + bias;
  }
}

// Lanes of an int16 vector on this target: the loads of DotInt16Rows read this many values of a
// row of x from any column < k.
size_t Int16Lanes() { return hn::Lanes(hn::ScalableTag<int16_t>()); }

void LinearInt8DecodeColumns(const int16_t* x, const float* x_scales, int64_t m, int64_t k,
                             int64_t padded_k, const int8_t* w, const float* scales, int64_t group,
                             int64_t n, const float* bias, float* y, int64_t begin, int64_t end) {
  const Int16Rows p{x, x_scales, m, k, padded_k, w, scales, group, n, bias, y};
  ForEachRowBlock(m, k, begin, end,
                  [&]<int R>(int64_t r0, int64_t j) { DotInt16Rows<R>(p, r0, j); });
}

// Output columns [begin, end) of y for every row of x.
void LinearInt8Columns(const float* x, int64_t m, int64_t k, const int8_t* w, const float* scales,
                       int64_t group, int64_t n, const float* bias, float* y, int64_t begin,
                       int64_t end) {
  const Int8Product p{x, m, k, w, scales, group, n, bias, y};
  ForEachRowBlock(m, k, begin, end, [&]<int R>(int64_t r0, int64_t j) { DotRowsOfX<R>(p, r0, j); });
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {
namespace {

// Products of at most this many rows (decode steps) take the int16 path.
constexpr int64_t kInt16Rows = 32;

}  // namespace

HWY_EXPORT(LinearInt8Columns);
HWY_EXPORT(LinearInt8DecodeColumns);
HWY_EXPORT(Int16Lanes);

void LinearInt8(ThreadPool& pool, const float* x, int64_t m, int64_t k, const int8_t* w,
                const float* scales, int64_t group, int64_t n, const float* bias, float* y) {
  Check(m > 0 && k > 0 && n > 0, "LinearInt8: sizes must be positive, got m=", m, " k=", k,
        " n=", n);
  Check(group > 0 && k % group == 0, "LinearInt8: scale group ", group, " does not divide k=", k);
  if (m <= kInt16Rows) {
    const auto lanes = static_cast<int64_t>(HWY_DYNAMIC_DISPATCH(Int16Lanes)());
    const QuantizedRows rows = QuantizeRowsInt16(x, m, k, lanes);
    pool.ParallelFor(
        n,
        [&](int64_t begin, int64_t end) {
          HWY_DYNAMIC_DISPATCH(LinearInt8DecodeColumns)
          (rows.values.data(), rows.scales.data(), m, k, rows.padded_k, w, scales, group, n, bias,
           y, begin, end);
        },
        64);
    return;
  }
  // Enough columns per task (about 64K weights) that waking a thread pays off.
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        HWY_DYNAMIC_DISPATCH(LinearInt8Columns)(x, m, k, w, scales, group, n, bias, y, begin, end);
      },
      std::max<int64_t>(1, 65536 / k));
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
