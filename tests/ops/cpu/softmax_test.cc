#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

std::vector<double> ReferenceSoftmax(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < cols; ++c) max = std::max<double>(max, x[r * cols + c]);
    double sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - max);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = std::exp(x[r * cols + c] - max) / sum;
  }
  return y;
}

TEST(SoftmaxTest, MatchesDoubleLoop) {
  std::mt19937 rng(51);
  constexpr int64_t kRows = 3;
  for (int64_t cols : {1, 7, 33, 130}) {
    auto x = RandomFloats(rng, kRows * cols, -10.0f, 10.0f);
    const auto expected = ReferenceSoftmax(x, kRows, cols);
    Softmax(x.data(), kRows, cols);
    ExpectClose(x, expected, 1e-6, "cols=" + std::to_string(cols));
    for (int64_t r = 0; r < kRows; ++r) {
      double sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += x[r * cols + c];
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST(SoftmaxTest, LargeLogitsDoNotOverflow) {
  std::vector<float> x = {1000.0f, 999.0f, 998.0f, 1000.0f, 900.0f};
  const auto expected = ReferenceSoftmax(x, 1, 5);
  Softmax(x.data(), 1, 5);
  ExpectClose(x, expected, 1e-6, "large logits");
}

TEST(SoftmaxTest, MinusInfinityGetsZero) {
  const float masked = -std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.5f, masked, -1.0f, masked, 2.0f, 0.0f, 1.0f};
  const auto expected = ReferenceSoftmax(x, 1, 7);
  Softmax(x.data(), 1, 7);
  ExpectClose(x, expected, 1e-6, "masked");
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[3], 0.0f);
}

}  // namespace
}  // namespace lightvlm::ops
