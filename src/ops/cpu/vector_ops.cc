// Highway compiles this file once per SIMD target (foreach_target.h re-includes it) and
// HWY_DYNAMIC_DISPATCH picks the best target of the running CPU at the first call.
#include "ops/cpu/vector_ops.h"

#include <algorithm>
#include <cstddef>
#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/vector_ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// After highway.h, which defines the target that this pass compiles for.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;
using FloatVec = hn::Vec<FloatTag>;

// Every loop runs whole vectors, then one vector for the last n % Lanes elements, padded
// through a local buffer: hwy 1.0.3's MaskedLoad reads the whole vector (with an aligned load)
// on SSE4 and older targets, which could fault past the end of the array.
FloatVec LoadTail(FloatTag d, const float* p, size_t count, float padding) {
  HWY_ALIGN_MAX float buffer[HWY_MAX_BYTES / sizeof(float)];
  std::fill_n(buffer, hn::Lanes(d), padding);
  std::copy_n(p, count, buffer);
  return hn::Load(d, buffer);
}

void StoreTail(FloatVec v, FloatTag d, size_t count, float* p) {
  HWY_ALIGN_MAX float buffer[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(v, d, buffer);
  std::copy_n(buffer, count, p);
}

float DotImpl(const float* a, const float* b, int64_t n) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t count = static_cast<size_t>(n);
  // Two accumulators hide the latency of the fused multiply-add.
  auto sum0 = hn::Zero(d);
  auto sum1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= count; i += 2 * lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
    sum1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), sum1);
  }
  for (; i + lanes <= count; i += lanes) {
    sum0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), sum0);
  }
  if (i < count) {
    sum1 =
        hn::MulAdd(LoadTail(d, a + i, count - i, 0.0f), LoadTail(d, b + i, count - i, 0.0f), sum1);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(sum0, sum1)));
}

void AddScaledImpl(const float* x, float scale, float* y, int64_t n) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t count = static_cast<size_t>(n);
  const auto factor = hn::Set(d, scale);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    hn::StoreU(hn::MulAdd(factor, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  }
  if (i < count) {
    const auto sum = hn::MulAdd(factor, LoadTail(d, x + i, count - i, 0.0f),
                                LoadTail(d, y + i, count - i, 0.0f));
    StoreTail(sum, d, count - i, y + i);
  }
}

void GroupedDotRowsImpl(const float* q, int64_t heads, int64_t group, const float* rows,
                        int64_t stride, int64_t count, int64_t n, float scale, float* out,
                        int64_t out_stride) {
  for (int64_t j = 0; j < count; ++j) {
    const float* row = rows + j * stride;
    for (int64_t h = 0; h < heads; ++h) {
      out[h * out_stride + j] = scale * DotImpl(q + h * n, row + (h / group) * n, n);
    }
  }
}

void GroupedAddScaledRowsImpl(const float* rows, int64_t stride, const float* weights,
                              int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                              int64_t group, float* y) {
  for (int64_t j = 0; j < count; ++j) {
    const float* row = rows + j * stride;
    for (int64_t h = 0; h < heads; ++h) {
      const float weight = weights[h * weight_stride + j];
      if (weight != 0) AddScaledImpl(row + (h / group) * n, weight, y + h * n, n);
    }
  }
}

void ScaleImpl(float* x, float scale, int64_t n) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t count = static_cast<size_t>(n);
  const auto factor = hn::Set(d, scale);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    hn::StoreU(hn::Mul(factor, hn::LoadU(d, x + i)), d, x + i);
  }
  if (i < count) {
    StoreTail(hn::Mul(factor, LoadTail(d, x + i, count - i, 0.0f)), d, count - i, x + i);
  }
}

float MaxImpl(const float* x, int64_t n) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t count = static_cast<size_t>(n);
  const float lowest = -std::numeric_limits<float>::infinity();
  auto max = hn::Set(d, lowest);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) max = hn::Max(max, hn::LoadU(d, x + i));
  if (i < count) max = hn::Max(max, LoadTail(d, x + i, count - i, lowest));
  return hn::GetLane(hn::MaxOfLanes(d, max));
}

float ExpShiftedSumImpl(float* x, float shift, int64_t n) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t count = static_cast<size_t>(n);
  const auto offset = hn::Set(d, shift);
  auto sum = hn::Zero(d);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), offset));
    hn::StoreU(e, d, x + i);
    sum = hn::Add(sum, e);
  }
  if (i < count) {
    // Padding with -infinity makes the unused lanes exp(-inf) = 0.
    const float lowest = -std::numeric_limits<float>::infinity();
    const auto e = hn::Exp(d, hn::Sub(LoadTail(d, x + i, count - i, lowest), offset));
    StoreTail(e, d, count - i, x + i);
    sum = hn::Add(sum, e);
  }
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {

HWY_EXPORT(DotImpl);
HWY_EXPORT(AddScaledImpl);
HWY_EXPORT(GroupedDotRowsImpl);
HWY_EXPORT(GroupedAddScaledRowsImpl);
HWY_EXPORT(ScaleImpl);
HWY_EXPORT(MaxImpl);
HWY_EXPORT(ExpShiftedSumImpl);

float Dot(const float* a, const float* b, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n);
}

void AddScaled(const float* x, float scale, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddScaledImpl)(x, scale, y, n);
}

void GroupedDotRows(const float* q, int64_t heads, int64_t group, const float* rows, int64_t stride,
                    int64_t count, int64_t n, float scale, float* out, int64_t out_stride) {
  HWY_DYNAMIC_DISPATCH(GroupedDotRowsImpl)
  (q, heads, group, rows, stride, count, n, scale, out, out_stride);
}

void GroupedAddScaledRows(const float* rows, int64_t stride, const float* weights,
                          int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                          int64_t group, float* y) {
  HWY_DYNAMIC_DISPATCH(GroupedAddScaledRowsImpl)
  (rows, stride, weights, weight_stride, count, n, heads, group, y);
}

void Scale(float* x, float scale, int64_t n) { HWY_DYNAMIC_DISPATCH(ScaleImpl)(x, scale, n); }

float Max(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(MaxImpl)(x, n); }

float ExpShiftedSum(float* x, float shift, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftedSumImpl)(x, shift, n);
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
