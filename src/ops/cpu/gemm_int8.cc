// Linear layers with int8 weights and float32 scales per group of input columns (a group of
// in_features is a scale per output channel). Weight-only quantisation: activations stay float32
// and each weight vector is widened to float32 in registers just before its multiply-add, so
// the weights are read from memory at one byte each (decode is bound by those bytes) while the
// arithmetic keeps float32 accuracy. Highway compiles this file once per SIMD target and picks
// the best one of the running CPU at the first call.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "base/error.h"
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/gemm_int8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

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

FloatVec LoadTail(FloatTag d, const float* p, size_t count) {
  HWY_ALIGN_MAX float buffer[HWY_MAX_BYTES / sizeof(float)] = {};
  std::copy_n(p, count, buffer);
  return hn::Load(d, buffer);
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
        sum[r] =
            hn::MulAdd(weights, LoadTail(d, p.x + (r0 + r) * p.k + start + i, count - i), sum[r]);
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

// Output columns [begin, end) of y for every row of x, in tiles of columns whose weights stay in
// cache while blocks of 4 rows of x pass over them: each weight byte comes from memory once.
void LinearInt8Columns(const float* x, int64_t m, int64_t k, const int8_t* w, const float* scales,
                       int64_t group, int64_t n, const float* bias, float* y, int64_t begin,
                       int64_t end) {
  const Int8Product p{x, m, k, w, scales, group, n, bias, y};
  const int64_t tile = std::max<int64_t>(1, (256 << 10) / p.k);
  for (int64_t first = begin; first < end; first += tile) {
    const int64_t last = std::min(end, first + tile);
    int64_t r0 = 0;
    for (; r0 + 4 <= p.m; r0 += 4) {
      for (int64_t j = first; j < last; ++j) DotRowsOfX<4>(p, r0, j);
    }
    for (int64_t j = first; j < last; ++j) {
      switch (p.m - r0) {
        case 3:
          DotRowsOfX<3>(p, r0, j);
          break;
        case 2:
          DotRowsOfX<2>(p, r0, j);
          break;
        case 1:
          DotRowsOfX<1>(p, r0, j);
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {

HWY_EXPORT(LinearInt8Columns);

void LinearInt8(ThreadPool& pool, const float* x, int64_t m, int64_t k, const int8_t* w,
                const float* scales, int64_t group, int64_t n, const float* bias, float* y) {
  Check(m > 0 && k > 0 && n > 0, "LinearInt8: sizes must be positive, got m=", m, " k=", k,
        " n=", n);
  Check(group > 0 && k % group == 0, "LinearInt8: scale group ", group, " does not divide k=", k);
  // Enough columns per task (about 64K weights) that waking a thread pays off.
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        HWY_DYNAMIC_DISPATCH(LinearInt8Columns)(x, m, k, w, scales, group, n, bias, y, begin, end);
      },
      std::max<int64_t>(1, 65536 / k));
}

void QuantizeInt8(const float* w, int64_t n, int64_t k, int64_t group, int8_t* q, float* scales) {
  Check(group > 0 && k % group == 0, "QuantizeInt8: scale group ", group, " does not divide ", k,
        " input columns");
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t start = 0; start < k; start += group) {
      const float* values = w + row * k + start;
      float largest = 0;
      for (int64_t i = 0; i < group; ++i) largest = std::max(largest, std::fabs(values[i]));
      // Symmetric: the largest magnitude maps to 127, zero stays exactly zero.
      const float scale = largest > 0 ? largest / 127.0f : 1.0f;
      scales[row * (k / group) + start / group] = scale;
      for (int64_t i = 0; i < group; ++i) {
        q[row * k + start + i] = static_cast<int8_t>(std::lround(values[i] / scale));
      }
    }
  }
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
