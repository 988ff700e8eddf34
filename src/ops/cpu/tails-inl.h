// The last n % Lanes floats of a loop as one vector, padded through a local buffer: hwy 1.0.3
// has no LoadN / StoreN, and its MaskedLoad reads the whole vector (with an aligned load) on SSE4
// and older targets, which could fault past the end of the array. Compiled once per SIMD target,
// as Highway's -inl.h headers are: the per-target include guard below lets foreach_target.h
// include it again for each.
#if defined(LIGHTVLM_OPS_CPU_TAILS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LIGHTVLM_OPS_CPU_TAILS_INL_H_
#undef LIGHTVLM_OPS_CPU_TAILS_INL_H_
#else
#define LIGHTVLM_OPS_CPU_TAILS_INL_H_
#endif

#include <algorithm>
#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {

// p[0, count) then `padding` in the other lanes.
template <class D>
hwy::HWY_NAMESPACE::Vec<D> LoadTail(D d, const float* p, size_t count, float padding) {
  HWY_ALIGN_MAX float buffer[HWY_MAX_BYTES / sizeof(float)];
  std::fill_n(buffer, hwy::HWY_NAMESPACE::Lanes(d), padding);
  std::copy_n(p, count, buffer);
  return hwy::HWY_NAMESPACE::Load(d, buffer);
}

// The first `count` lanes of v into p[0, count).
template <class D>
void StoreTail(hwy::HWY_NAMESPACE::Vec<D> v, D d, size_t count, float* p) {
  HWY_ALIGN_MAX float buffer[HWY_MAX_BYTES / sizeof(float)];
  hwy::HWY_NAMESPACE::Store(v, d, buffer);
  std::copy_n(buffer, count, p);
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LIGHTVLM_OPS_CPU_TAILS_INL_H_
