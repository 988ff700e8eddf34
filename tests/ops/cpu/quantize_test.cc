// The vectorised quantisers against the rules of ops.h written out one value at a time (std::lround
// rounds halves away from zero), on every SIMD target: the same codes, bit for bit, and the same
// scales, including values that fall exactly halfway between two codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "hwy/targets.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

struct Int8Weights {
  std::vector<int8_t> q;
  std::vector<float> scales;
};

Int8Weights ScalarInt8(const std::vector<float>& w, int64_t n, int64_t k, int64_t group) {
  Int8Weights out{std::vector<int8_t>(n * k), std::vector<float>(n * k / group)};
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t start = 0; start < k; start += group) {
      const float* values = &w[row * k + start];
      float largest = 0;
      for (int64_t i = 0; i < group; ++i) largest = std::max(largest, std::fabs(values[i]));
      const float scale = largest > 0 ? largest / 127.0f : 1.0f;
      out.scales[row * (k / group) + start / group] = scale;
      for (int64_t i = 0; i < group; ++i) {
        out.q[row * k + start + i] = static_cast<int8_t>(std::lround(values[i] / scale));
      }
    }
  }
  return out;
}

struct Q4Weights {
  std::vector<uint8_t> q;
  std::vector<uint16_t> scales;
};

Q4Weights ScalarQ4(const std::vector<float>& w, int64_t n, int64_t k) {
  const int64_t groups = Q4Groups(k);
  Q4Weights out{std::vector<uint8_t>(n * k / 2), std::vector<uint16_t>(n * groups * 2)};
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t start = g * kQ4Group, length = std::min(kQ4Group, k - start);
      const float* values = &w[row * k + start];
      const auto [low, high] = std::minmax_element(values, values + length);
      const float min = BF16ToF32(F32ToBF16(*low));
      const float scale = BF16ToF32(F32ToBF16((*high - min) / 15));
      out.scales[(row * groups + g) * 2] = F32ToBF16(scale);
      out.scales[(row * groups + g) * 2 + 1] = F32ToBF16(min);
      const auto code = [&](int64_t i) {
        if (!(scale > 0)) return 0;
        return std::clamp(static_cast<int>(std::lround((values[i] - min) / scale)), 0, 15);
      };
      const int64_t half = length / 2;
      for (int64_t b = 0; b < half; ++b) {
        out.q[row * (k / 2) + start / 2 + b] = static_cast<uint8_t>(code(b) | code(half + b) << 4);
      }
    }
  }
  return out;
}

// Scales compared as numbers: a group whose smallest value is a zero may keep +0 or -0.
void ExpectSameBf16Values(const std::vector<uint16_t>& actual,
                          const std::vector<uint16_t>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(BF16ToF32(actual[i]), BF16ToF32(expected[i])) << "scale pair entry " << i;
  }
}

// Rows of random values, then rows whose values sit exactly halfway between codes (in int8 with
// a largest magnitude of 127, scale 1: +-0.5, +-2.5, ...; in q4 with min 0 and max 15/4, scale
// 1/4: 1/8, 3/8, ...), then constant rows.
std::vector<float> WeightsWithTies(std::mt19937& rng, int64_t n, int64_t k, bool q4) {
  std::vector<float> w = testing::RandomFloats(rng, n * k, -2.0f, 2.0f);
  for (int64_t i = 0; i < k; ++i) {
    float& value = w[(n - 2) * k + i];
    if (q4) {
      value = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 3.75f : static_cast<float>(2 * (i % 15) + 1) / 8;
    } else {
      value = i % 4 == 0 ? 127.0f : (i % 2 ? 1.0f : -1.0f) * (static_cast<float>(i % 9) + 0.5f);
    }
    w[(n - 1) * k + i] = 0.25f;
  }
  return w;
}

TEST(QuantizeTest, Int8MatchesTheScalarRuleOnEverySimdTarget) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    std::mt19937 rng(5);
    for (const auto& [k, group] : std::vector<std::pair<int64_t, int64_t>>{
             {96, 96}, {100, 100}, {100, 20}, {37, 37}, {4096, 64}}) {
      SCOPED_TRACE("k=" + std::to_string(k) + " group=" + std::to_string(group));
      const int64_t n = 5;
      const std::vector<float> w = WeightsWithTies(rng, n, k, /*q4=*/false);
      const Int8Weights expected = ScalarInt8(w, n, k, group);
      Int8Weights actual{std::vector<int8_t>(n * k, 99), std::vector<float>(n * k / group, -1)};
      QuantizeInt8(w.data(), n, k, group, actual.q.data(), actual.scales.data());
      EXPECT_EQ(actual.q, expected.q);
      EXPECT_EQ(actual.scales, expected.scales);
    }
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

TEST(QuantizeTest, Q4MatchesTheScalarRuleOnEverySimdTarget) {
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    std::mt19937 rng(6);
    // Whole groups, a short last group of every even length, one short group alone.
    for (const int64_t k : {32, 64, 36, 46, 62, 2, 4096, 1000}) {
      SCOPED_TRACE("k=" + std::to_string(k));
      const int64_t n = 5;
      const std::vector<float> w = WeightsWithTies(rng, n, k, /*q4=*/true);
      const Q4Weights expected = ScalarQ4(w, n, k);
      Q4Weights actual{std::vector<uint8_t>(n * k / 2, 0xAB),
                       std::vector<uint16_t>(n * Q4Groups(k) * 2, 0xFFFF)};
      QuantizeQ4(w.data(), n, k, actual.q.data(), actual.scales.data());
      EXPECT_EQ(actual.q, expected.q);
      ExpectSameBf16Values(actual.scales, expected.scales);
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace lightvlm::ops
