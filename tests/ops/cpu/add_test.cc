#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

TEST(AddTest, AddsElementwiseAcrossThreadSplits) {
  std::mt19937 rng(5);
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 7, 100000}) {
      std::vector<float> y = testing::RandomFloats(rng, n);
      const std::vector<float> x = testing::RandomFloats(rng, n);
      std::vector<double> expected(n);
      for (int64_t i = 0; i < n; ++i) expected[i] = double(y[i]) + x[i];
      Add(pool, y.data(), x.data(), n);
      testing::ExpectClose(y, expected, 1e-7, "Add n=" + std::to_string(n));
    }
  }
}

}  // namespace
}  // namespace lightvlm::ops
