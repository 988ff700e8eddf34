// Elementwise activations, in float as the reference computes them, split over the pool's threads.
// The sigmoid forms (SiLU, QuickGELU, GELU's tanh form) run in vectors with Highway's exp (within
// 1 ulp): as loops of std::exp on one thread, CLIP ViT-L's 23 QuickGELUs over 577 x 4096 values
// took 194 ms, 12% of the tower's time. The erf form stays scalar (Highway 1.0.3 has no erf),
// threaded.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "ops/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/cpu/activation.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// After highway.h, which defines the target that this pass compiles for.
#include "hwy/contrib/math/math-inl.h"
#include "ops/cpu/tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lightvlm::ops::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// x * sigmoid(t) over [0, n) with t = slope * x, or t = slope * (x + cubic * x^3) where kCubic:
// SiLU (slope 1), QuickGELU (1.702) and GELU's tanh form, whose 0.5 * (1 + tanh(u)) is
// sigmoid(2u), so that it loses nothing where tanh nears -1. kDivide computes x / (1 + exp(-t)),
// one rounding fewer (SiLU's form in PyTorch). Where exp's argument passes 88 (float's exp
// overflows past 88.7, and Highway's exp is valid only below) the result is 0, as x / inf is with
// std::exp: the exact value is below 88 * x * e^-88, far under float's precision of anything.
template <bool kDivide, bool kCubic>
void SigmoidScaled(float* x, int64_t n, float slope, float cubic = 0.0f) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto one = hn::Set(d, 1.0f), cap = hn::Set(d, 88.0f), minus_slope = hn::Set(d, -slope);
  const auto cubic_factor = hn::Set(d, cubic);
  const auto apply = [&](hn::Vec<decltype(d)> v) {
    const auto inner = kCubic ? hn::MulAdd(hn::Mul(cubic_factor, hn::Mul(v, v)), v, v) : v;
    const auto argument = hn::Mul(minus_slope, inner);
    const auto denominator = hn::Add(one, hn::Exp(d, hn::Min(argument, cap)));
    const auto result = kDivide ? hn::Div(v, denominator) : hn::Mul(v, hn::Div(one, denominator));
    return hn::IfThenZeroElse(hn::Gt(argument, cap), result);
  };
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(apply(hn::LoadU(d, x + i)), d, x + i);
  if (i < n) {
    const auto rest = static_cast<size_t>(n - i);
    StoreTail(apply(LoadTail(d, x + i, rest, 0.0f)), d, rest, x + i);
  }
}

void SiluRange(float* x, int64_t n) { SigmoidScaled<true, false>(x, n, 1.0f); }
void QuickGeluRange(float* x, int64_t n) { SigmoidScaled<false, false>(x, n, 1.702f); }
void GeluTanhRange(float* x, int64_t n) {
  SigmoidScaled<true, true>(x, n, static_cast<float>(2 * std::sqrt(2.0 / std::numbers::pi)),
                            0.044715f);
}

}  // namespace lightvlm::ops::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lightvlm::ops {
namespace {

// Values per task: enough that waking a thread pays off.
constexpr int64_t kValuesPerTask = 16384;

template <class Range>
void ParallelRanges(ThreadPool& pool, float* x, int64_t n, const Range& range) {
  pool.ParallelFor(
      n, [&](int64_t begin, int64_t end) { range(x + begin, end - begin); }, kValuesPerTask);
}

}  // namespace

HWY_EXPORT(SiluRange);
HWY_EXPORT(QuickGeluRange);
HWY_EXPORT(GeluTanhRange);

void Silu(ThreadPool& pool, float* x, int64_t n) {
  ParallelRanges(pool, x, n, [](float* part, int64_t count) {
    HWY_DYNAMIC_DISPATCH(SiluRange)(part, count);
  });
}

void Gelu(ThreadPool& pool, float* x, int64_t n) {
  const float inv_sqrt2 = static_cast<float>(1.0 / std::numbers::sqrt2);
  ParallelRanges(pool, x, n, [&](float* part, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      part[i] = 0.5f * part[i] * (1.0f + std::erf(part[i] * inv_sqrt2));
    }
  });
}

void GeluTanh(ThreadPool& pool, float* x, int64_t n) {
  ParallelRanges(pool, x, n, [](float* part, int64_t count) {
    HWY_DYNAMIC_DISPATCH(GeluTanhRange)(part, count);
  });
}

void QuickGelu(ThreadPool& pool, float* x, int64_t n) {
  ParallelRanges(pool, x, n, [](float* part, int64_t count) {
    HWY_DYNAMIC_DISPATCH(QuickGeluRange)(part, count);
  });
}

void SiluMul(ThreadPool& pool, float* gate, const float* up, int64_t n) {
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        HWY_DYNAMIC_DISPATCH(SiluRange)(gate + begin, end - begin);
        for (int64_t i = begin; i < end; ++i) gate[i] *= up[i];
      },
      kValuesPerTask);
}

}  // namespace lightvlm::ops
#endif  // HWY_ONCE
