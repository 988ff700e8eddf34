#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

constexpr int64_t kDims[] = {1, 7, 33, 130};
constexpr int64_t kRows = 5;

std::vector<double> ReferenceRmsNorm(const std::vector<float>& x, const std::vector<float>& weight,
                                     int64_t rows, int64_t dim, double eps) {
  std::vector<double> y(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    double sum_squares = 0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += std::pow(x[r * dim + i], 2);
    const double rms = std::sqrt(sum_squares / dim + eps);
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = x[r * dim + i] / rms * weight[i];
  }
  return y;
}

std::vector<double> ReferenceLayerNorm(const std::vector<float>& x,
                                       const std::vector<float>& weight, const float* bias,
                                       int64_t rows, int64_t dim, double eps) {
  std::vector<double> y(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0;
    for (int64_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= dim;
    double variance = 0;
    for (int64_t i = 0; i < dim; ++i) variance += std::pow(x[r * dim + i] - mean, 2);
    variance /= dim;
    for (int64_t i = 0; i < dim; ++i) {
      y[r * dim + i] =
          (x[r * dim + i] - mean) / std::sqrt(variance + eps) * weight[i] + (bias ? bias[i] : 0.0);
    }
  }
  return y;
}

TEST(RmsNormTest, MatchesDoubleLoop) {
  std::mt19937 rng(21);
  ThreadPool pool(3);
  for (int64_t dim : kDims) {
    const auto x = RandomFloats(rng, kRows * dim, -3.0f, 3.0f);
    const auto weight = RandomFloats(rng, dim, 0.5f, 1.5f);
    std::vector<float> y(x.size());
    RmsNorm(pool, x.data(), weight.data(), kRows, dim, 1e-6f, y.data());
    ExpectClose(y, ReferenceRmsNorm(x, weight, kRows, dim, 1e-6f), 1e-6,
                "dim=" + std::to_string(dim));
  }
}

TEST(RmsNormTest, InPlaceEqualsOutOfPlace) {
  std::mt19937 rng(22);
  ThreadPool pool(2);
  auto x = RandomFloats(rng, kRows * 130);
  const auto weight = RandomFloats(rng, 130);
  std::vector<float> y(x.size());
  RmsNorm(pool, x.data(), weight.data(), kRows, 130, 1e-5f, y.data());
  RmsNorm(pool, x.data(), weight.data(), kRows, 130, 1e-5f, x.data());
  EXPECT_EQ(x, y);
}

// The fused residual add and norm gives exactly what the two ops give one after the other.
TEST(AddRmsNormTest, EqualsAddThenRmsNorm) {
  std::mt19937 rng(11);
  const int64_t rows = 5, dim = 67;
  const std::vector<float> x = testing::RandomFloats(rng, rows * dim);
  const std::vector<float> delta = testing::RandomFloats(rng, rows * dim);
  const std::vector<float> weight = testing::RandomFloats(rng, dim);
  ThreadPool pool(2);
  std::vector<float> separate_x = x, separate_y(rows * dim);
  Add(pool, separate_x.data(), delta.data(), rows * dim);
  RmsNorm(pool, separate_x.data(), weight.data(), rows, dim, 1e-6f, separate_y.data());
  std::vector<float> fused_x = x, fused_y(rows * dim);
  AddRmsNorm(pool, fused_x.data(), delta.data(), weight.data(), rows, dim, 1e-6f, fused_y.data());
  EXPECT_EQ(fused_x, separate_x);
  EXPECT_EQ(fused_y, separate_y);
  EXPECT_THROW(
      AddRmsNorm(pool, fused_x.data(), delta.data(), weight.data(), rows, 0, 1e-6f, fused_y.data()),
      Error);
}

TEST(LayerNormTest, MatchesDoubleLoopWithAndWithoutBias) {
  std::mt19937 rng(23);
  ThreadPool pool(3);
  for (int64_t dim : kDims) {
    const auto x = RandomFloats(rng, kRows * dim, -3.0f, 3.0f);
    const auto weight = RandomFloats(rng, dim, 0.5f, 1.5f);
    const auto bias = RandomFloats(rng, dim);
    for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
      std::vector<float> y(x.size());
      LayerNorm(pool, x.data(), weight.data(), b, kRows, dim, 1e-5f, y.data());
      ExpectClose(y, ReferenceLayerNorm(x, weight, b, kRows, dim, 1e-5f), 1e-6,
                  "dim=" + std::to_string(dim) + (b ? " with bias" : ""));
    }
  }
}

// A large mean with a small spread: a one-pass E[x^2] - E[x]^2 in float would lose the variance.
TEST(LayerNormTest, LargeMeanKeepsPrecision) {
  std::mt19937 rng(24);
  ThreadPool pool(1);
  auto x = RandomFloats(rng, 2 * 33, 1000.0f, 1000.01f);
  const std::vector<float> weight(33, 1.0f);
  const auto expected = ReferenceLayerNorm(x, weight, nullptr, 2, 33, 1e-12);
  LayerNorm(pool, x.data(), weight.data(), nullptr, 2, 33, 1e-12f, x.data());
  ExpectClose(x, expected, 1e-5, "large mean");
}

TEST(NormTest, RejectsEmptyDim) {
  ThreadPool pool(1);
  float value = 1.0f;
  EXPECT_THROW(RmsNorm(pool, &value, &value, 1, 0, 1e-6f, &value), Error);
  EXPECT_THROW(LayerNorm(pool, &value, &value, nullptr, 1, 0, 1e-6f, &value), Error);
}

}  // namespace
}  // namespace lightvlm::ops
