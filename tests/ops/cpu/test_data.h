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

}  // namespace lightvlm::ops::testing
