// Seeded random inputs and a closeness check shared by the CPU kernel tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace lightvlm::ops::testing {

inline std::vector<float> RandomFloats(std::mt19937& rng, size_t count, float low = -1.0f,
                                       float high = 1.0f) {
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(rng);
  return values;
}

// Expects |actual - expected| <= tolerance * max(1, |expected|) element by element: relative
// for large values, absolute near zero.
inline void ExpectClose(std::span<const float> actual, std::span<const double> expected,
                        double tolerance, const std::string& label) {
  ASSERT_EQ(actual.size(), expected.size()) << label;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double bound = tolerance * std::max(1.0, std::fabs(expected[i]));
    ASSERT_NEAR(actual[i], expected[i], bound) << label << " at element " << i;
  }
}

// x as the decode kernels (LinearInt8, LinearQ4) see it: each row rounded to int16 steps of its
// largest magnitude / 32767, halves away from zero.
inline std::vector<float> RoundRowsToInt16Steps(const std::vector<float>& x, int64_t m, int64_t k) {
  std::vector<float> rounded(x.size());
  for (int64_t r = 0; r < m; ++r) {
    float largest = 0;
    for (int64_t i = 0; i < k; ++i) largest = std::max(largest, std::fabs(x[r * k + i]));
    const float scale = largest > 0 ? largest / 32767.0f : 1.0f;
    for (int64_t i = 0; i < k; ++i) {
      rounded[r * k + i] = static_cast<float>(std::lround(x[r * k + i] / scale)) * scale;
    }
  }
  return rounded;
}

}  // namespace lightvlm::ops::testing
