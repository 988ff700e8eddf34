// Quantisation of float32 weights at load time, for LinearInt8 and LinearQ4 (rules in ops.h), in
// vectors: a 7B model in q4 spent 56 of its 90 s load rounding one value at a time with lround.
// Rounding is to nearest with ties away from zero, lround's, so the codes are those of the scalar
// definition bit for bit. Highway compiles this file once per SIMD target and picks the best one
// of the running CPU at the first call.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "base/dtype.h"
#include "base/error.h"
#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/quantize.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/cpu/tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using FloatTag = hn::ScalableTag<float>;
using FloatVec = hn::Vec<FloatTag>;
using Int32Tag = hn::RebindToSigned<FloatTag>;
using Int32Vec = hn::Vec<Int32Tag>;

// Highway's Round breaks ties to even; lround away from zero.
FloatVec RoundHalfAwayFromZero(FloatTag d, FloatVec v) {
  const FloatVec whole = hn::Trunc(v);
  const auto tie = hn::Eq(hn::Abs(hn::Sub(v, whole)), hn::Set(d, 0.5f));
  return hn::IfThenElse(tie, hn::Add(whole, hn::CopySign(hn::Set(d, 1.0f), v)), hn::Round(v));
}

// p[0, count) (count <= lanes) as one vector, `padding` past it.
FloatVec LoadUpTo(FloatTag d, const float* p, int64_t count, float padding) {
  if (count == static_cast<int64_t>(hn::Lanes(d))) return hn::LoadU(d, p);
  return LoadTail(d, p, static_cast<size_t>(count), padding);
}

// The low `count` lanes of `codes` as bytes at out.
template <class D8>
void StoreBytes(D8 d8, hn::Vec<D8> codes, int64_t count, void* out) {
  HWY_ALIGN_MAX uint8_t buffer[HWY_MAX_BYTES];
  hn::Store(codes, d8, reinterpret_cast<hn::TFromD<D8>*>(buffer));
  std::copy_n(buffer, count * sizeof(hn::TFromD<D8>), static_cast<uint8_t*>(out));
}

void QuantizeInt8Rows(const float* w, int64_t n, int64_t k, int64_t group, int8_t* q,
                      float* scales) {
  const FloatTag d;
  const Int32Tag d32;
  const hn::Rebind<int8_t, Int32Tag> d8;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t start = 0; start < k; start += group) {
      const float* values = w + row * k + start;
      FloatVec largest = hn::Zero(d);
      for (int64_t i = 0; i < group; i += lanes) {
        const FloatVec v = LoadUpTo(d, values + i, std::min(lanes, group - i), 0.0f);
        largest = hn::Max(largest, hn::Abs(v));
      }
      const float max = hn::GetLane(hn::MaxOfLanes(d, largest));
      // Symmetric: the largest magnitude maps to 127, zero stays exactly zero.
      const float scale = max > 0 ? max / 127.0f : 1.0f;
      scales[row * (k / group) + start / group] = scale;
      for (int64_t i = 0; i < group; i += lanes) {
        const int64_t count = std::min(lanes, group - i);
        const FloatVec v = LoadUpTo(d, values + i, count, 0.0f);
        const Int32Vec codes =
            hn::ConvertTo(d32, RoundHalfAwayFromZero(d, hn::Div(v, hn::Set(d, scale))));
        StoreBytes(d8, hn::DemoteTo(d8, codes), count, q + row * k + start + i);
      }
    }
  }
}

void QuantizeQ4Rows(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scales) {
  const FloatTag d;
  const Int32Tag d32;
  const hn::Rebind<uint8_t, Int32Tag> d8;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t groups = Q4Groups(k);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = g * kQ4Group, length = std::min(kQ4Group, k - start);
      const float* values = w + row * k + start;
      FloatVec low = hn::Set(d, values[0]), high = low;
      for (int64_t i = 0; i < length; i += lanes) {
        const FloatVec v = LoadUpTo(d, values + i, std::min(lanes, length - i), values[0]);
        low = hn::Min(low, v);
        high = hn::Max(high, v);
      }
      // Rounded to bf16 as stored before the codes are chosen, so that the codes fit them.
      const float min = BF16ToF32(F32ToBF16(hn::GetLane(hn::MinOfLanes(d, low))));
      const float scale = BF16ToF32(F32ToBF16((hn::GetLane(hn::MaxOfLanes(d, high)) - min) / 15));
      scales[(row * groups + g) * 2] = F32ToBF16(scale);
      scales[(row * groups + g) * 2 + 1] = F32ToBF16(min);
      const int64_t half = length / 2;
      uint8_t* bytes = q + row * (k / 2) + start / 2;
      if (!(scale > 0)) {  // a constant group: its min alone
        std::fill_n(bytes, half, uint8_t{0});
        continue;
      }
      const auto code = [&](const float* p, int64_t count) {
        const FloatVec steps =
            hn::Div(hn::Sub(LoadUpTo(d, p, count, min), hn::Set(d, min)), hn::Set(d, scale));
        const Int32Vec rounded = hn::ConvertTo(d32, RoundHalfAwayFromZero(d, steps));
        return hn::Min(hn::Max(rounded, hn::Zero(d32)), hn::Set(d32, 15));
      };
      for (int64_t b = 0; b < half; b += lanes) {
        const int64_t count = std::min(lanes, half - b);
        const Int32Vec packed =
            hn::Or(code(values + b, count), hn::ShiftLeft<4>(code(values + half + b, count)));
        StoreBytes(d8, hn::DemoteTo(d8, packed), count, bytes + b);
      }
    }
  }
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {

HWY_EXPORT(QuantizeInt8Rows);
HWY_EXPORT(QuantizeQ4Rows);

void QuantizeInt8(const float* w, int64_t n, int64_t k, int64_t group, int8_t* q, float* scales) {
  Check(group > 0 && k % group == 0, "QuantizeInt8: scale group ", group, " does not divide ", k,
        " input columns");
  HWY_DYNAMIC_DISPATCH(QuantizeInt8Rows)(w, n, k, group, q, scales);
}

// The rule was chosen on prompt logits against f32's (norm-relative, measured with PyTorch on the
// same rounding): symmetric scales (max |w| / 7, or the signed max / -8 as llama.cpp's Q4_0), all
// matrices in 4 bits, left SmolLM2-135M's 48-54% off and stories260k's 18%; this asymmetric rule
// 6.7% and 10.2%, and 1.9% and 9.6% with lm_head in int8 (LogitsWeightDType). A search for each
// group's least squared error (narrowed ranges refit by least squares) lowered the weights' error
// by 4% yet raised the logits' on stories260k (10.3% against 9.6%; SmolLM2 1.9% either way, its
// file's Q4_1 groups being on such grids already): the clipped extremes cost more than the finer
// steps gained.
void QuantizeQ4(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scales) {
  Check(k % 2 == 0, "QuantizeQ4: ", k, " columns cannot be packed two to a byte (k must be even)");
  HWY_DYNAMIC_DISPATCH(QuantizeQ4Rows)(w, n, k, q, scales);
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
