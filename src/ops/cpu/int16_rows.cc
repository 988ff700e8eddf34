// Vectorised: the rounding of x runs on one thread before every decode product, and as a loop of
// std::lround calls it took a fifth of a 256 x 1536 product's time.
#include "ops/cpu/int16_rows.h"

#include <algorithm>
#include <cmath>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/int16_rows.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// v rounded to the nearest integer with halves away from zero, as std::lround rounds the values
// that do not fill a vector.
template <class D>
hn::Vec<D> RoundHalfAway(D d, hn::Vec<D> v) {
  const auto truncated = hn::Trunc(v);
  const auto away = hn::Ge(hn::Abs(hn::Sub(v, truncated)), hn::Set(d, 0.5f));
  return hn::IfThenElse(away, hn::Add(truncated, hn::CopySign(hn::Set(d, 1.0f), v)), truncated);
}

// One row of x [k] into out [k]; returns the row's scale.
float QuantizeRow(const float* row, int64_t k, int16_t* out) {
  const hn::ScalableTag<float> d;
  const hn::Rebind<int32_t, decltype(d)> d32;
  const hn::Rebind<int16_t, decltype(d)> d16;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  auto largest_lanes = hn::Zero(d);
  int64_t i = 0;
  for (; i + lanes <= k; i += lanes) {
    largest_lanes = hn::Max(largest_lanes, hn::Abs(hn::LoadU(d, row + i)));
  }
  float largest = hn::GetLane(hn::MaxOfLanes(d, largest_lanes));
  for (; i < k; ++i) largest = std::max(largest, std::fabs(row[i]));
  const float scale = largest > 0 ? largest / 32767.0f : 1.0f;
  const auto scales = hn::Set(d, scale);
  for (i = 0; i + lanes <= k; i += lanes) {
    const auto rounded = RoundHalfAway(d, hn::Div(hn::LoadU(d, row + i), scales));
    hn::StoreU(hn::DemoteTo(d16, hn::ConvertTo(d32, rounded)), d16, out + i);
  }
  for (; i < k; ++i) out[i] = static_cast<int16_t>(std::lround(row[i] / scale));
  return scale;
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {

HWY_EXPORT(QuantizeRow);

QuantizedRows QuantizeRowsInt16(const float* x, int64_t m, int64_t k, int64_t lanes) {
  QuantizedRows rows;
  rows.padded_k = (k + 2 * lanes - 2) / lanes * lanes;  // >= k + lanes - 1, whole vectors
  rows.values.assign(m * rows.padded_k, 0);
  rows.scales.resize(m);
  for (int64_t r = 0; r < m; ++r) {
    rows.scales[r] =
        HWY_DYNAMIC_DISPATCH(QuantizeRow)(x + r * k, k, rows.values.data() + r * rows.padded_k);
  }
  return rows;
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
