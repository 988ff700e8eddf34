#include <gtest/gtest.h>

#include "base/error.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

// y = x * w^T + bias, in double.
std::vector<double> ReferenceLinear(const std::vector<float>& x, int64_t m, int64_t k,
                                    const std::vector<float>& w, int64_t n, const float* bias) {
  std::vector<double> y(m * n);
  for (int64_t row = 0; row < m; ++row) {
    for (int64_t col = 0; col < n; ++col) {
      double sum = bias ? bias[col] : 0.0;
      for (int64_t i = 0; i < k; ++i) sum += static_cast<double>(x[row * k + i]) * w[col * k + i];
      y[row * n + col] = sum;
    }
  }
  return y;
}

struct LinearSize {
  int64_t m, k, n;
};

TEST(LinearTest, MatchesDoubleLoop) {
  std::mt19937 rng(11);
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    for (const LinearSize& size : {LinearSize{1, 1, 1}, LinearSize{7, 33, 5},
                                   LinearSize{33, 130, 17}, LinearSize{130, 7, 64}}) {
      const auto x = RandomFloats(rng, size.m * size.k);
      const auto w = RandomFloats(rng, size.n * size.k);
      const auto bias = RandomFloats(rng, size.n);
      for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
        std::vector<float> y(size.m * size.n, 99.0f);
        Linear(pool, x.data(), size.m, size.k, w.data(), size.n, b, y.data());
        ExpectClose(y, ReferenceLinear(x, size.m, size.k, w, size.n, b), 1e-5,
                    "m=" + std::to_string(size.m) + " k=" + std::to_string(size.k) +
                        " n=" + std::to_string(size.n) + (b ? " with bias" : ""));
      }
    }
  }
}

TEST(LinearTest, EmptyInnerDimensionGivesBias) {
  ThreadPool pool(2);
  const std::vector<float> bias = {1.0f, -2.0f, 3.0f};
  std::vector<float> y(6, 99.0f);
  Linear(pool, nullptr, 2, 0, nullptr, 3, bias.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1.0f, -2.0f, 3.0f, 1.0f, -2.0f, 3.0f}));
}

TEST(LinearTest, RejectsNegativeSizes) {
  ThreadPool pool(1);
  EXPECT_THROW(Linear(pool, nullptr, -1, 2, nullptr, 2, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace lightvlm::ops
