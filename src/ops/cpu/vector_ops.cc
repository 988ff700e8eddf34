// Highway compiles this file once per SIMD target (foreach_target.h re-includes it) and
// HWY_DYNAMIC_DISPATCH picks the best target of the running CPU at the first call.
#include "ops/cpu/vector_ops.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "base/dtype.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/vector_ops.cc"
#include "hwy/cache_control.h"
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

// A bfloat16 is the upper half of a float32: widening is a shift of the bits.
void WidenBf16(const uint16_t* src, size_t count, float* dst) {
  const FloatTag d;
  const hn::Rebind<uint16_t, FloatTag> d16;
  const hn::RebindToUnsigned<FloatTag> du;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= count; i += lanes) {
    hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, src + i)))), d,
               dst + i);
  }
  for (; i < count; ++i) dst[i] = BF16ToF32(src[i]);
}

// Rows this far ahead are prefetched: the widening loads otherwise wait on memory, one row at a
// time (the kernels' time went to the loads after them).
constexpr int64_t kPrefetchRows = 8;

void PrefetchRow(const uint16_t* row, int64_t elements) {
  const auto* bytes = reinterpret_cast<const char*>(row);
  for (int64_t offset = 0; offset < elements * 2; offset += 64) hwy::Prefetch(bytes + offset);
}

// sums[k] = the sum of the lanes of vk, k < 4: pairs of lanes are added across the four vectors
// first, so that four dot products share one horizontal reduction.
HWY_INLINE void SumOfLanes4([[maybe_unused]] FloatTag d, FloatVec v0, FloatVec v1, FloatVec v2,
                            FloatVec v3, float* sums) {
#if HWY_TARGET == HWY_SCALAR
  sums[0] = hn::GetLane(v0), sums[1] = hn::GetLane(v1);
  sums[2] = hn::GetLane(v2), sums[3] = hn::GetLane(v3);
#else
  const hn::Repartition<uint64_t, FloatTag> d64;
  // Within each 128-bit block: v0's and v1's lanes 0 + 2 and 1 + 3, interleaved, then v2's and
  // v3's...
  const auto v01 =
      hn::BitCast(d64, hn::Add(hn::InterleaveLower(d, v0, v1), hn::InterleaveUpper(d, v0, v1)));
  const auto v23 =
      hn::BitCast(d64, hn::Add(hn::InterleaveLower(d, v2, v3), hn::InterleaveUpper(d, v2, v3)));
  // ...and their halves added: each block holds its share of the four sums, in order.
  const FloatVec blocks = hn::Add(hn::BitCast(d, hn::InterleaveLower(d64, v01, v23)),
                                  hn::BitCast(d, hn::InterleaveUpper(d64, v01, v23)));
  HWY_ALIGN_MAX float lanes[HWY_MAX_BYTES / sizeof(float)];
  hn::Store(blocks, d, lanes);
  const hn::Full128<float> d4;
  auto total = hn::Load(d4, lanes);
  for (size_t i = 4; i < hn::Lanes(d); i += 4) total = hn::Add(total, hn::Load(d4, lanes + i));
  hn::StoreU(total, d4, sums);
#endif
}

// Each cache row is widened once into a scratch row; four heads at a time then take their dot
// products with it and share one reduction (a reduction per head cost more than its products).
void GroupedDotRowsBf16Impl(const float* q, int64_t heads, int64_t group, const uint16_t* rows,
                            int64_t stride, int64_t count, int64_t n, float scale, float* out,
                            int64_t out_stride) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t width = static_cast<size_t>(n), full = width / lanes * lanes;
  const int64_t row_width = heads / group * n;
  std::vector<float> widened(row_width);
  // Per head: its query and the offset of its kv head in a row. Past the last head, the last
  // head again, so that every set has four: their sums are computed and dropped.
  const int64_t sets = (heads + 3) / 4;
  std::vector<const float*> query(4 * sets);
  std::vector<const float*> key(4 * sets);
  for (int64_t k = 0; k < 4 * sets; ++k) {
    const int64_t h = std::min(k, heads - 1);
    query[k] = q + h * n;
    key[k] = widened.data() + h / group * n;
  }
  for (int64_t j = 0; j < count; ++j) {
    if (j + kPrefetchRows < count) PrefetchRow(rows + (j + kPrefetchRows) * stride, row_width);
    WidenBf16(rows + j * stride, row_width, widened.data());
    for (int64_t set = 0; set < sets; ++set) {
      const float* const* q4 = query.data() + 4 * set;
      const float* const* k4 = key.data() + 4 * set;
      FloatVec sum0 = hn::Zero(d), sum1 = hn::Zero(d), sum2 = hn::Zero(d), sum3 = hn::Zero(d);
      for (size_t i = 0; i < full; i += lanes) {
        sum0 = hn::MulAdd(hn::LoadU(d, q4[0] + i), hn::LoadU(d, k4[0] + i), sum0);
        sum1 = hn::MulAdd(hn::LoadU(d, q4[1] + i), hn::LoadU(d, k4[1] + i), sum1);
        sum2 = hn::MulAdd(hn::LoadU(d, q4[2] + i), hn::LoadU(d, k4[2] + i), sum2);
        sum3 = hn::MulAdd(hn::LoadU(d, q4[3] + i), hn::LoadU(d, k4[3] + i), sum3);
      }
      if (full < width) {
        const size_t tail = width - full;
        sum0 = hn::MulAdd(LoadTail(d, q4[0] + full, tail, 0.0f),
                          LoadTail(d, k4[0] + full, tail, 0.0f), sum0);
        sum1 = hn::MulAdd(LoadTail(d, q4[1] + full, tail, 0.0f),
                          LoadTail(d, k4[1] + full, tail, 0.0f), sum1);
        sum2 = hn::MulAdd(LoadTail(d, q4[2] + full, tail, 0.0f),
                          LoadTail(d, k4[2] + full, tail, 0.0f), sum2);
        sum3 = hn::MulAdd(LoadTail(d, q4[3] + full, tail, 0.0f),
                          LoadTail(d, k4[3] + full, tail, 0.0f), sum3);
      }
      float sums[4];
      SumOfLanes4(d, sum0, sum1, sum2, sum3, sums);
      for (int64_t k = 0; k < std::min<int64_t>(4, heads - 4 * set); ++k) {
        out[(4 * set + k) * out_stride + j] = scale * sums[k];
      }
    }
  }
}

// Values kRows rows at a time, widened into scratch rows: each head's output is loaded and
// stored once for the kRows rows rather than once a row.
void GroupedAddScaledRowsBf16Impl(const uint16_t* rows, int64_t stride, const float* weights,
                                  int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                                  int64_t group, float* y) {
  constexpr int64_t kRows = 4;
  const FloatTag d;
  const size_t lanes = hn::Lanes(d);
  const size_t width = static_cast<size_t>(n), full = width / lanes * lanes;
  const int64_t row_width = heads / group * n;
  std::vector<float> widened(kRows * row_width);
  for (int64_t first = 0; first < count; first += kRows) {
    const int64_t block = std::min(kRows, count - first);
    for (int64_t r = 0; r < block; ++r) {
      const int64_t ahead = first + r + kPrefetchRows;
      if (ahead < count) PrefetchRow(rows + ahead * stride, row_width);
      WidenBf16(rows + (first + r) * stride, row_width, widened.data() + r * row_width);
    }
    for (int64_t h = 0; h < heads; ++h) {
      const float* value = widened.data() + h / group * n;
      const float* weight = weights + h * weight_stride + first;
      float* out = y + h * n;
      for (size_t i = 0; i < full; i += lanes) {
        auto sum = hn::LoadU(d, out + i);
        for (int64_t r = 0; r < block; ++r) {
          sum = hn::MulAdd(hn::Set(d, weight[r]), hn::LoadU(d, value + r * row_width + i), sum);
        }
        hn::StoreU(sum, d, out + i);
      }
      for (size_t i = full; i < width; ++i) {
        for (int64_t r = 0; r < block; ++r) out[i] += weight[r] * value[r * row_width + i];
      }
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
  // Reduced here, not by MaxOfLanes: some targets' reductions start from the lowest finite float
  // (clang's EMU128), which turns -inf (an empty or fully masked row) into -FLT_MAX.
  float lane_values[hn::MaxLanes(d)];
  hn::StoreU(max, d, lane_values);
  float result = lowest;
  for (size_t lane = 0; lane < lanes; ++lane) result = std::max(result, lane_values[lane]);
  return result;
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
HWY_EXPORT(GroupedDotRowsBf16Impl);
HWY_EXPORT(GroupedAddScaledRowsBf16Impl);
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

void GroupedDotRowsBf16(const float* q, int64_t heads, int64_t group, const uint16_t* rows,
                        int64_t stride, int64_t count, int64_t n, float scale, float* out,
                        int64_t out_stride) {
  HWY_DYNAMIC_DISPATCH(GroupedDotRowsBf16Impl)
  (q, heads, group, rows, stride, count, n, scale, out, out_stride);
}

void GroupedAddScaledRowsBf16(const uint16_t* rows, int64_t stride, const float* weights,
                              int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                              int64_t group, float* y) {
  HWY_DYNAMIC_DISPATCH(GroupedAddScaledRowsBf16Impl)
  (rows, stride, weights, weight_stride, count, n, heads, group, y);
}

void Scale(float* x, float scale, int64_t n) { HWY_DYNAMIC_DISPATCH(ScaleImpl)(x, scale, n); }

float Max(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(MaxImpl)(x, n); }

float ExpShiftedSum(float* x, float shift, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftedSumImpl)(x, shift, n);
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
