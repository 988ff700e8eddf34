// Highway compiles this file once per SIMD target (foreach_target.h re-includes it) and
// HWY_DYNAMIC_DISPATCH picks the best target of the running CPU at the first call.
#include "ops/cpu/vector_ops.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <vector>

#include "base/dtype.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/vector_ops.cc"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// After highway.h, which defines the target that this pass compiles for.
#include "hwy/contrib/math/math-inl.h"
#include "ops/cpu/tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;
using FloatVec = hn::Vec<FloatTag>;

// Every loop runs whole vectors, then one vector for the last n % Lanes elements (tails-inl.h).

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

// bfloat16 keys and values are read a pair at a time as one 32-bit lane: a bfloat16 is the upper
// half of a float32, so the pair's first element (the low half, little-endian) widens by a shift
// and its second by masking off the low half. A vector of 2 * lanes bfloat16 thus widens in two
// operations into its even and its odd elements ("split" order); the query, and the outputs that
// values are added into, are rearranged into the same order once per call instead.
using BitsTag = hn::RebindToUnsigned<FloatTag>;

HWY_INLINE void SplitBf16(const uint16_t* p, FloatVec& even, FloatVec& odd) {
  const FloatTag d;
  const BitsTag du;
  const auto pairs = hn::LoadU(du, reinterpret_cast<const uint32_t*>(p));
  even = hn::BitCast(d, hn::ShiftLeft<16>(pairs));
  odd = hn::BitCast(d, hn::And(pairs, hn::Set(du, 0xFFFF0000u)));
}

// x [n] into split order: per piece of 2 * lanes elements, the even ones, then the odd ones; the
// last piece padded with zeros. `split` has SplitWidth(n) elements.
size_t SplitWidth(size_t n, size_t lanes) { return (n + 2 * lanes - 1) / (2 * lanes) * 2 * lanes; }

void ToSplitOrder(const float* x, size_t n, float* split) {
  const size_t lanes = hn::Lanes(FloatTag());
  std::fill_n(split, SplitWidth(n, lanes), 0.0f);
  for (size_t i = 0; i < n; ++i) split[i / 2 + i % 2 * lanes + i / (2 * lanes) * lanes] = x[i];
}

// The inverse of ToSplitOrder.
void FromSplitOrder(const float* split, size_t n, float* x) {
  const size_t lanes = hn::Lanes(FloatTag());
  for (size_t i = 0; i < n; ++i) x[i] = split[i / 2 + i % 2 * lanes + i / (2 * lanes) * lanes];
}

// The next block's rows are prefetched while this one computes.
void PrefetchRows(const uint16_t* rows, int64_t stride, int64_t count, int64_t width) {
  for (int64_t j = 0; j < count; ++j) {
    const auto* bytes = reinterpret_cast<const char*>(rows + j * stride);
    for (int64_t offset = 0; offset < width * 2; offset += 64) hwy::Prefetch(bytes + offset);
  }
}

// One vector whose lane i is the sum of the lanes of v[i], i < lanes (v is overwritten): a
// transpose-and-add tree, lanes - 1 additions in all rather than a horizontal sum per vector.
// Each level adds pairs of vectors, interleaved so that every lane of the result covers twice
// as many lanes of one input: 32-bit lanes, then 64-bit lanes, then halves, then blocks.
// Which input ends in which lane is fixed per target; SumSlots finds it.
HWY_INLINE FloatVec SumsOfLanes([[maybe_unused]] FloatTag d, FloatVec* v) {
#if HWY_TARGET == HWY_SCALAR
  return v[0];
#else
  constexpr size_t kLanes = hn::MaxLanes(FloatTag());
  const hn::Repartition<uint64_t, FloatTag> d64;
  size_t count = kLanes;
  for (size_t i = 0; i < count / 2; ++i) {
    v[i] = hn::Add(hn::InterleaveLower(d, v[2 * i], v[2 * i + 1]),
                   hn::InterleaveUpper(d, v[2 * i], v[2 * i + 1]));
  }
  count /= 2;
  for (size_t i = 0; i < count / 2; ++i) {
    const auto a = hn::BitCast(d64, v[2 * i]), b = hn::BitCast(d64, v[2 * i + 1]);
    v[i] = hn::Add(hn::BitCast(d, hn::InterleaveLower(d64, a, b)),
                   hn::BitCast(d, hn::InterleaveUpper(d64, a, b)));
  }
  count /= 2;
  if constexpr (kLanes >= 8) {
    for (size_t i = 0; i < count / 2; ++i) {
      v[i] = hn::Add(hn::ConcatLowerLower(d, v[2 * i + 1], v[2 * i]),
                     hn::ConcatUpperUpper(d, v[2 * i + 1], v[2 * i]));
    }
    count /= 2;
  }
  if constexpr (kLanes >= 16) {
    for (size_t i = 0; i < count / 2; ++i) {
      const FloatVec a = v[2 * i], b = v[2 * i + 1];
      v[i] = hn::Add(hn::OddEvenBlocks(hn::SwapAdjacentBlocks(b), a),
                     hn::OddEvenBlocks(b, hn::SwapAdjacentBlocks(a)));
    }
  }
  static_assert(kLanes <= 16, "SumsOfLanes reduces at most 16 lanes");
  return v[0];
#endif
}

// slot[r] = the input of SumsOfLanes that ends in lane r.
void SumSlots(FloatTag d, size_t* slot) {
  const size_t lanes = hn::Lanes(d);
  HWY_ALIGN_MAX float sums[HWY_MAX_BYTES / sizeof(float)];
  FloatVec v[HWY_MAX_BYTES / sizeof(float)];
  for (size_t s = 0; s < lanes; ++s) v[s] = hn::Set(d, static_cast<float>(s));
  hn::Store(SumsOfLanes(d, v), d, sums);
  for (size_t r = 0; r < lanes; ++r) slot[r] = static_cast<size_t>(sums[r]) / lanes;
}

// Calls Kernel::Run<kSet, kChunks>(args...) for a runtime set of 1 to 4 heads and 1 to 4 chunks
// (pieces of 2 * lanes elements): the kernels hold a set's query or output chunks in registers.
constexpr int64_t kMaxSet = 4, kMaxChunks = 4;

template <class Kernel, int kSet = 1, int kChunks = 1, typename... Args>
HWY_INLINE void ForSetAndChunks(int64_t set, size_t chunks, Args... args) {
  if (set == kSet && chunks == kChunks) return Kernel::template Run<kSet, kChunks>(args...);
  if constexpr (kChunks < kMaxChunks) {
    ForSetAndChunks<Kernel, kSet, kChunks + 1>(set, chunks, args...);
  } else if constexpr (kSet < kMaxSet) {
    ForSetAndChunks<Kernel, kSet + 1, 1>(set, chunks, args...);
  }
}

// The dot products of kSet query heads (split order, kChunks chunks from `query[s]`) with one
// kv head's kChunks chunks of `block` cache rows (`keys`, row stride `stride`): row r's products
// stay a vector, stored (or, with `add`, added) at dots[s] + slot[r] * lanes.
struct DotRows {
  template <int kSet, int kChunks>
  static void Run(const float* const* query, const uint16_t* keys, int64_t stride, size_t block,
                  const size_t* slot, bool add, float* const* dots) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    FloatVec q[kSet][2 * kChunks];
    for (int s = 0; s < kSet; ++s) {
      for (int c = 0; c < 2 * kChunks; ++c) q[s][c] = hn::LoadU(d, query[s] + c * lanes);
    }
    for (size_t r = 0; r < block; ++r) {
      FloatVec sum[kSet];
      for (int s = 0; s < kSet; ++s) sum[s] = hn::Zero(d);
      for (int c = 0; c < kChunks; ++c) {
        FloatVec even, odd;
        SplitBf16(keys + r * stride + 2 * c * lanes, even, odd);
        for (int s = 0; s < kSet; ++s) {
          sum[s] = hn::MulAdd(q[s][2 * c], even, sum[s]);
          sum[s] = hn::MulAdd(q[s][2 * c + 1], odd, sum[s]);
        }
      }
      for (int s = 0; s < kSet; ++s) {
        float* p = dots[s] + slot[r] * lanes;
        hn::Store(add ? hn::Add(hn::Load(d, p), sum[s]) : sum[s], d, p);
      }
    }
  }
};

// Blocks of `lanes` cache rows: each row's dot product with each head stays a vector, and one
// SumsOfLanes per head and block turns the block's vectors into one vector of logits. A kv head
// is read as chunks of 2 * lanes elements, at most kMaxChunks at a time; the elements past its
// whole chunks are copied into a chunk padded with zeros.
void GroupedDotRowsBf16Impl(const float* q, int64_t heads, int64_t group, const uint16_t* rows,
                            int64_t stride, int64_t count, int64_t n, float scale, float* out,
                            int64_t out_stride) {
  const FloatTag d;
  const size_t lanes = hn::Lanes(d), chunk = 2 * lanes;
  const size_t width = SplitWidth(static_cast<size_t>(n), lanes);
  const size_t full = static_cast<size_t>(n) / chunk * chunk;
  const int64_t kv_heads = heads / group, row_width = kv_heads * n;
  auto query = hwy::AllocateAligned<float>(heads * width);
  for (int64_t h = 0; h < heads; ++h) ToSplitOrder(q + h * n, n, query.get() + h * width);
  // [heads, lanes, lanes]: each head's dot products of a block, row r at slot[r].
  auto dots = hwy::AllocateAligned<float>(heads * lanes * lanes);
  std::fill_n(dots.get(), heads * lanes * lanes, 0.0f);
  size_t slot[HWY_MAX_BYTES / sizeof(float)];
  SumSlots(d, slot);
  // [lanes, chunk]: the block's rows' elements past `full` of one kv head, padded with zeros.
  std::vector<uint16_t> tails(lanes * chunk, 0);
  const float* set_query[kMaxSet];
  float* set_dots[kMaxSet];
  FloatVec block_dots[HWY_MAX_BYTES / sizeof(float)];
  for (int64_t first = 0; first < count; first += lanes) {
    const size_t block = std::min<size_t>(lanes, count - first);
    const uint16_t* block_rows = rows + first * stride;
    const int64_t next = first + static_cast<int64_t>(lanes);
    if (next < count) {
      PrefetchRows(rows + next * stride, stride, std::min<int64_t>(lanes, count - next), row_width);
    }
    for (int64_t g = 0; g < kv_heads; ++g) {
      if (full < width) {
        for (size_t r = 0; r < block; ++r) {
          std::copy(block_rows + r * stride + g * n + full, block_rows + r * stride + (g + 1) * n,
                    tails.data() + r * chunk);
        }
      }
      for (int64_t h = g * group; h < (g + 1) * group; h += kMaxSet) {
        const int64_t set = std::min(kMaxSet, (g + 1) * group - h);
        for (int64_t s = 0; s < set; ++s) set_dots[s] = dots.get() + (h + s) * lanes * lanes;
        for (size_t at = 0; at < width; at += kMaxChunks * chunk) {
          for (int64_t s = 0; s < set; ++s) set_query[s] = query.get() + (h + s) * width + at;
          const size_t chunks = std::min<size_t>(kMaxChunks, (width - at) / chunk);
          const size_t whole = at + chunks * chunk <= full ? chunks : chunks - 1;
          if (whole > 0) {
            ForSetAndChunks<DotRows>(set, whole, set_query, block_rows + g * n + at, stride, block,
                                     slot, at > 0, set_dots);
          }
          if (whole < chunks) {  // the padded chunk
            for (int64_t s = 0; s < set; ++s) set_query[s] += whole * chunk;
            ForSetAndChunks<DotRows>(set, size_t{1}, set_query, tails.data(), int64_t(chunk), block,
                                     slot, at + whole * chunk > 0, set_dots);
          }
        }
      }
    }
    for (int64_t h = 0; h < heads; ++h) {
      for (size_t s = 0; s < lanes; ++s) {
        block_dots[s] = hn::Load(d, dots.get() + (h * lanes + s) * lanes);
      }
      const FloatVec logits = hn::Mul(hn::Set(d, scale), SumsOfLanes(d, block_dots));
      if (block == lanes) {
        hn::StoreU(logits, d, out + h * out_stride + first);
      } else {
        StoreTail(logits, d, block, out + h * out_stride + first);
      }
    }
  }
}

// kSet heads' outputs (split order, kChunks chunks at y[s]) += the rows [0, count) of one kv
// head's kChunks chunks (`values`, row stride `stride`) weighted by weights[s][j]; the outputs
// stay in registers over all the rows.
struct AddRows {
  template <int kSet, int kChunks>
  static void Run(const uint16_t* values, int64_t stride, int64_t count,
                  const float* const* weights, float* const* y) {
    const FloatTag d;
    const size_t lanes = hn::Lanes(d);
    FloatVec sum[kSet][2 * kChunks];
    for (int s = 0; s < kSet; ++s) {
      for (int c = 0; c < 2 * kChunks; ++c) sum[s][c] = hn::Load(d, y[s] + c * lanes);
    }
    for (int64_t j = 0; j < count; ++j) {
      FloatVec weight[kSet];
      for (int s = 0; s < kSet; ++s) weight[s] = hn::Set(d, weights[s][j]);
      for (int c = 0; c < kChunks; ++c) {
        FloatVec even, odd;
        SplitBf16(values + j * stride + 2 * c * lanes, even, odd);
        for (int s = 0; s < kSet; ++s) {
          sum[s][2 * c] = hn::MulAdd(weight[s], even, sum[s][2 * c]);
          sum[s][2 * c + 1] = hn::MulAdd(weight[s], odd, sum[s][2 * c + 1]);
        }
      }
    }
    for (int s = 0; s < kSet; ++s) {
      for (int c = 0; c < 2 * kChunks; ++c) hn::Store(sum[s][c], d, y[s] + c * lanes);
    }
  }
};

// Values in blocks of kValueRows rows (in cache while each kv head's part of them is added into
// its heads' outputs). The outputs are kept in split order for the call; the elements of a head
// past its whole chunks are added one by one.
void GroupedAddScaledRowsBf16Impl(const uint16_t* rows, int64_t stride, const float* weights,
                                  int64_t weight_stride, int64_t count, int64_t n, int64_t heads,
                                  int64_t group, float* y) {
  constexpr int64_t kValueRows = 32;
  const FloatTag d;
  const size_t lanes = hn::Lanes(d), chunk = 2 * lanes;
  const size_t full = static_cast<size_t>(n) / chunk * chunk;
  const int64_t kv_heads = heads / group, row_width = kv_heads * n;
  auto split = hwy::AllocateAligned<float>(heads * full + 1);
  for (int64_t h = 0; h < heads; ++h) ToSplitOrder(y + h * n, full, split.get() + h * full);
  const float* set_weights[kMaxSet];
  float* set_y[kMaxSet];
  for (int64_t first = 0; first < count; first += kValueRows) {
    const int64_t block = std::min(kValueRows, count - first);
    const int64_t next = first + kValueRows;
    if (next < count) {
      PrefetchRows(rows + next * stride, stride, std::min(kValueRows, count - next), row_width);
    }
    for (int64_t g = 0; g < kv_heads; ++g) {
      const uint16_t* values = rows + first * stride + g * n;
      for (int64_t h = g * group; h < (g + 1) * group; h += kMaxSet) {
        const int64_t set = std::min(kMaxSet, (g + 1) * group - h);
        for (int64_t s = 0; s < set; ++s)
          set_weights[s] = weights + (h + s) * weight_stride + first;
        for (size_t at = 0; at < full; at += kMaxChunks * chunk) {
          for (int64_t s = 0; s < set; ++s) set_y[s] = split.get() + (h + s) * full + at;
          ForSetAndChunks<AddRows>(set, std::min<size_t>(kMaxChunks, (full - at) / chunk),
                                   values + at, stride, block, set_weights, set_y);
        }
        // Only for heads of a size off whole chunks: run empty over the block's rows (SmolLM2's
        // 64), the loop drew a fifth of this kernel's samples in a profile with the cache in L2.
        if (full == static_cast<size_t>(n)) continue;
        for (int64_t s = 0; s < set; ++s) {
          float* tail = y + (h + s) * n;
          for (int64_t j = 0; j < block; ++j) {
            for (int64_t i = static_cast<int64_t>(full); i < n; ++i) {
              tail[i] += set_weights[s][j] * BF16ToF32(values[j * stride + i]);
            }
          }
        }
      }
    }
  }
  for (int64_t h = 0; h < heads; ++h) FromSplitOrder(split.get() + h * full, full, y + h * n);
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
