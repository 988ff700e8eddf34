#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "base/error.h"
#include "hwy/targets.h"
#include "ops/cpu/gemm_q4_decode.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

struct Quantized {
  std::vector<uint8_t> q;
  std::vector<uint16_t> scales;
};

Quantized Quantize(const std::vector<float>& w, int64_t n, int64_t k) {
  Quantized out{std::vector<uint8_t>(n * k / 2), std::vector<uint16_t>(n * Q4Groups(k) * 2)};
  QuantizeQ4(w.data(), n, k, out.q.data(), out.scales.data());
  return out;
}

// Weight (row, column) as ops.h's layout describes it, written out independently of the kernels.
float Dequantised(const Quantized& quantized, int64_t k, int64_t row, int64_t column) {
  const int64_t group = column / kQ4Group, start = group * kQ4Group;
  const int64_t half = std::min(kQ4Group, k - start) / 2, offset = column - start;
  const uint8_t byte = quantized.q[row * (k / 2) + start / 2 + offset % half];
  const int code = offset < half ? byte & 15 : byte >> 4;
  const uint16_t* scale_and_min = &quantized.scales[(row * Q4Groups(k) + group) * 2];
  return BF16ToF32(scale_and_min[0]) * static_cast<float>(code) + BF16ToF32(scale_and_min[1]);
}

std::vector<float> DequantisedMatrix(const Quantized& quantized, int64_t n, int64_t k) {
  std::vector<float> w(n * k);
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t c = 0; c < k; ++c) w[row * k + c] = Dequantised(quantized, k, row, c);
  }
  return w;
}

TEST(QuantizeQ4Test, PacksEachHalfGroupIntoLowAndHighNibbles) {
  // One group of 32 on the grid of scale 0.5 from -4 (codes 0..15, twice) and a short group of 4
  // on the grid of 0.25 from -1: every value is representable.
  std::vector<float> w(36);
  for (int i = 0; i < 32; ++i) w[i] = 0.5f * static_cast<float>(i % 16) - 4;
  const std::vector<float> tail = {-1.0f, 0.5f, 0.25f, 2.75f};  // codes 0, 6, 5, 15
  std::copy(tail.begin(), tail.end(), w.begin() + 32);
  const Quantized quantized = Quantize(w, 1, 36);
  ASSERT_EQ(quantized.scales.size(), 4u);
  EXPECT_EQ(BF16ToF32(quantized.scales[0]), 0.5f);
  EXPECT_EQ(BF16ToF32(quantized.scales[1]), -4.0f);
  EXPECT_EQ(BF16ToF32(quantized.scales[2]), 0.25f);
  EXPECT_EQ(BF16ToF32(quantized.scales[3]), -1.0f);
  // Byte b of the first group holds column b (low nibble) and column 16 + b (high nibble).
  for (int b = 0; b < 16; ++b) EXPECT_EQ(quantized.q[b], b | b << 4) << b;
  // The short group: byte 0 holds columns 32 and 34, byte 1 columns 33 and 35.
  EXPECT_EQ(quantized.q[16], 0 | 5 << 4);
  EXPECT_EQ(quantized.q[17], 6 | 15 << 4);
  for (int c = 0; c < 36; ++c) EXPECT_EQ(Dequantised(quantized, 36, 0, c), w[c]) << c;
}

// A constant group (zeros included) comes back exactly where its value is a bf16 value.
TEST(QuantizeQ4Test, ConstantGroupsComeBackExactly) {
  std::vector<float> w(64, 0.0f);
  std::fill(w.begin() + 32, w.end(), -0.375f);
  const Quantized quantized = Quantize(w, 2, 32);
  for (int c = 0; c < 64; ++c) EXPECT_EQ(Dequantised(quantized, 32, c / 32, c % 32), w[c]) << c;
}

// Every weight comes back within half a step of its group's scale, give or take the bf16 rounding
// of the min and the scale; on normal weights the error is 7.7% of their norm.
TEST(QuantizeQ4Test, RoundTripErrorIsHalfAStep) {
  std::mt19937 rng(5);
  const int64_t n = 24, k = 172;  // a short last group of 12
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n * k);
  for (float& value : w) value = normal(rng);
  const Quantized quantized = Quantize(w, n, k);
  double error = 0, norm = 0;
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t start = 0; start < k; start += kQ4Group) {
      const float* group = w.data() + row * k + start;
      const auto [low, high] = std::minmax_element(group, group + std::min(k - start, kQ4Group));
      const float step = (*high - *low) / 15;
      const float bound = step / 2 + (std::fabs(*low) + std::fabs(*high)) / 256;
      for (int64_t c = start; c < std::min(k, start + kQ4Group); ++c) {
        const float difference = Dequantised(quantized, k, row, c) - w[row * k + c];
        EXPECT_LE(std::fabs(difference), bound) << "row " << row << ", column " << c;
        error += double(difference) * difference;
        norm += double(w[row * k + c]) * w[row * k + c];
      }
    }
  }
  EXPECT_LT(std::sqrt(error / norm), 0.08);
}

// The reference multiplies the dequantised weights in double with x as the kernel sees it (the
// caller rounds x for the decode routes), rounded to bf16 (and the weights too) for the
// prefill's matrix product.
std::vector<double> Reference(const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& bias, int64_t m, int64_t k, int64_t n,
                              bool bf16) {
  const auto round = [bf16](float v) { return bf16 ? BF16ToF32(F32ToBF16(v)) : v; };
  std::vector<double> expected(m * n);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      double sum = bias.empty() ? 0.0 : bias[c];
      for (int64_t i = 0; i < k; ++i) sum += double(round(x[r * k + i])) * round(w[c * k + i]);
      expected[r * n + c] = sum;
    }
  }
  return expected;
}

// x as LinearQ4DecodeInt8Groups sees it (gemm_q4_decode.h): each group of kQ4Group columns of
// a row as two planes of int8, coarse steps of its largest magnitude / 127 and the remainder in
// steps 256 times finer.
std::vector<float> RoundGroupsToInt8Planes(const std::vector<float>& x, int64_t m, int64_t k) {
  std::vector<float> rounded(x.size());
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t start = 0; start < k; start += kQ4Group) {
      const float* group = x.data() + r * k + start;
      const int64_t length = std::min(kQ4Group, k - start);
      float largest = 0;
      for (int64_t i = 0; i < length; ++i) largest = std::max(largest, std::fabs(group[i]));
      const float coarse = largest > 0 ? largest / 127.0f : 1.0f, fine = coarse / 256;
      for (int64_t i = 0; i < length; ++i) {
        const float q1 = std::nearbyint(group[i] / coarse);
        const float q2 =
            std::clamp(std::nearbyint(std::fma(-q1, coarse, group[i]) / fine), -127.0f, 127.0f);
        rounded[r * k + start + i] = static_cast<float>((double(q1) * 256 + q2) * fine);
      }
    }
  }
  return rounded;
}

// Products of up to this many rows (decode steps) take the register kernel.
constexpr int64_t kDecodeRows = 8;

// Which entry point a check runs, and so how x is rounded in its reference.
enum class Route { kLinearQ4, kInt16, kInt8Groups };

using Kernel = void (*)(ThreadPool&, const float*, int64_t, int64_t, const uint8_t*,
                        const uint16_t*, int64_t, const float*, float*);

Kernel EntryPoint(Route route) {
  switch (route) {
    case Route::kInt16:
      return LinearQ4DecodeInt16;
    case Route::kInt8Groups:
      return LinearQ4DecodeInt8Groups;
    case Route::kLinearQ4:
      break;
  }
  return LinearQ4;
}

std::vector<float> RunLinearQ4(int64_t m, int64_t k, int64_t n, bool with_bias, int threads,
                               const std::vector<float>& x, const Quantized& quantized,
                               const std::vector<float>& bias, Route route = Route::kLinearQ4) {
  ThreadPool pool(threads);
  std::vector<float> y(m * n, -7.0f);
  EntryPoint(route)(pool, x.data(), m, k, quantized.q.data(), quantized.scales.data(), n,
                    with_bias ? bias.data() : nullptr, y.data());
  return y;
}

// x as `route` rounds it: LinearQ4's decode steps take the int8 groups where the CPU has VNNI.
std::vector<float> RoundedForDecode(Route route, const std::vector<float>& x, int64_t m,
                                    int64_t k) {
  const bool int8_groups =
      route == Route::kInt8Groups || (route == Route::kLinearQ4 && CpuHasAvx512Vnni());
  return int8_groups ? RoundGroupsToInt8Planes(x, m, k) : testing::RoundRowsToInt16Steps(x, m, k);
}

void CheckAgainstReference(int64_t m, int64_t k, int64_t n, bool with_bias, int threads,
                           Route route = Route::kLinearQ4, bool exact_x = false,
                           double tolerance = 2e-5) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + k * 7 + n));
  const std::vector<float> x = testing::RandomFloats(rng, m * k);
  const std::vector<float> w = testing::RandomFloats(rng, n * k);
  const std::vector<float> bias = testing::RandomFloats(rng, n);
  const Quantized quantized = Quantize(w, n, k);
  const bool decode = m <= kDecodeRows;
  const std::vector<double> expected = Reference(
      decode && !exact_x ? RoundedForDecode(route, x, m, k) : x, DequantisedMatrix(quantized, n, k),
      with_bias ? bias : std::vector<float>{}, m, k, n, !decode);
  const std::string label = "LinearQ4 " + std::to_string(m) + "x" + std::to_string(k) + "x" +
                            std::to_string(n) + ", " + std::to_string(threads) + " threads";
  testing::ExpectClose(RunLinearQ4(m, k, n, with_bias, threads, x, quantized, bias, route),
                       expected, tolerance, label);
}

void CheckDecodeShapes(Route route) {
  for (const int64_t k : {2, 14, 30, 32, 64, 100, 172, 330}) {
    CheckAgainstReference(1, k, 33, true, 1, route);
    CheckAgainstReference(3, k, 5, false, 2, route);
  }
  CheckAgainstReference(4, 96, 17, true, 3, route);
  CheckAgainstReference(5, 1536, 70, false, 2, route);  // a block of 4 rows and one of 1
  CheckAgainstReference(8, 2048, 9, true, 2, route);
  CheckAgainstReference(1, 1030, 7, true, 2, route);  // 16 groups and a short one of 6
}

TEST(LinearQ4Test, DecodeRowsMatchDequantisedReference) { CheckDecodeShapes(Route::kLinearQ4); }

TEST(LinearQ4Test, Int16RouteMatchesDequantisedReference) { CheckDecodeShapes(Route::kInt16); }

TEST(LinearQ4Test, Int8GroupsRouteMatchesDequantisedReference) {
  if (!CpuHasAvx512Vnni()) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  CheckDecodeShapes(Route::kInt8Groups);
}

// Groups of x that are all zeros (scale 1 by rule) or hold one outlier give the reference's
// products: an outlier coarsens its own group's steps only.
TEST(LinearQ4Test, Int8GroupsRouteKeepsZeroAndOutlierGroupsApart) {
  if (!CpuHasAvx512Vnni()) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  const int64_t m = 2, k = 200, n = 9;
  std::mt19937 rng(11);
  std::vector<float> x = testing::RandomFloats(rng, m * k);
  std::fill(x.begin(), x.begin() + 32, 0.0f);  // row 0's first group
  x[k + 40] = 900.0f;                          // row 1's second group
  const std::vector<float> bias = testing::RandomFloats(rng, n);
  const Quantized quantized = Quantize(testing::RandomFloats(rng, n * k), n, k);
  const std::vector<double> expected =
      Reference(RoundGroupsToInt8Planes(x, m, k), DequantisedMatrix(quantized, n, k), bias, m, k, n,
                /*bf16=*/false);
  testing::ExpectClose(RunLinearQ4(m, k, n, true, 2, x, quantized, bias, Route::kInt8Groups),
                       expected, 2e-5, "zero and outlier groups");
}

// Rounding x to int16 (steps of 1 / 32767 of the row's largest value) keeps decode products
// within 1e-3 of those with the exact x, as for LinearInt8.
TEST(LinearQ4Test, Int16RouteStaysCloseToExactActivations) {
  CheckAgainstReference(1, 576, 64, true, 2, Route::kInt16, /*exact_x=*/true, 1e-3);
  CheckAgainstReference(8, 1536, 16, false, 2, Route::kInt16, /*exact_x=*/true, 1e-3);
}

// Two int8 planes per group (15 bits of each group) keep decode products within 1e-3 of those
// with the exact x, as the int16 route does.
TEST(LinearQ4Test, Int8GroupsRouteStaysCloseToExactActivations) {
  if (!CpuHasAvx512Vnni()) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  CheckAgainstReference(1, 576, 64, true, 2, Route::kInt8Groups, /*exact_x=*/true, 1e-3);
  CheckAgainstReference(8, 1536, 16, false, 2, Route::kInt8Groups, /*exact_x=*/true, 1e-3);
}

TEST(LinearQ4Test, PrefillRowsMatchTheBf16Reference) {
  CheckAgainstReference(9, 64, 33, true, 1);
  CheckAgainstReference(33, 172, 65, false, 2);
  CheckAgainstReference(40, 1030, 3000, true, 2);  // several tiles of weights, a short last one
}

// Every SIMD target this build compiled and this CPU runs gives the reference's products (the
// Highway route; the VNNI one has a single target).
TEST(LinearQ4Test, EveryTargetMatchesTheReference) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    CheckAgainstReference(1, 330, 19, true, 2, Route::kInt16);
    CheckAgainstReference(4, 64, 7, false, 1, Route::kInt16);
    CheckAgainstReference(7, 46, 5, true, 3, Route::kInt16);
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

// Each output is computed by one thread in a fixed order: the thread count changes no bit.
TEST(LinearQ4Test, ThreadCountChangesNoBit) {
  for (const int64_t m : {1, 3, 8, 20}) {
    const int64_t k = 330, n = 300;
    std::mt19937 rng(static_cast<unsigned>(m));
    const std::vector<float> x = testing::RandomFloats(rng, m * k);
    const std::vector<float> bias = testing::RandomFloats(rng, n);
    const Quantized quantized = Quantize(testing::RandomFloats(rng, n * k), n, k);
    EXPECT_EQ(RunLinearQ4(m, k, n, true, 1, x, quantized, bias),
              RunLinearQ4(m, k, n, true, 3, x, quantized, bias))
        << m << " rows";
  }
}

TEST(LinearQ4Test, RejectsOddRows) {
  ThreadPool pool(1);
  std::vector<float> x(9), y(2);
  std::vector<uint8_t> w(10);
  std::vector<uint16_t> scales(2);
  try {
    LinearQ4(pool, x.data(), 1, 9, w.data(), scales.data(), 2, nullptr, y.data());
    ADD_FAILURE() << "an odd k was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("k must be even, got k=9"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(QuantizeQ4(x.data(), 1, 9, w.data(), scales.data()), Error);
}

}  // namespace
}  // namespace lightvlm::ops
