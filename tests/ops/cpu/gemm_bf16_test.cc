#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "base/dtype.h"
#include "base/error.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

// The reference rounds x and w to bf16 exactly as the kernel does, then multiplies in double:
// products of bf16 values are exact in float32, so only float32 accumulation differs.
void CheckAgainstReference(int64_t m, int64_t k, int64_t n, bool with_bias, int threads) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + k * 7 + n));
  const std::vector<float> x = testing::RandomFloats(rng, m * k);
  const std::vector<float> w_f32 = testing::RandomFloats(rng, n * k);
  const std::vector<float> bias = testing::RandomFloats(rng, n);
  std::vector<uint16_t> w(n * k);
  for (size_t i = 0; i < w.size(); ++i) w[i] = F32ToBF16(w_f32[i]);
  std::vector<double> expected(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) {
      double sum = with_bias ? bias[c] : 0.0;
      for (int64_t i = 0; i < k; ++i)
        sum += double(BF16ToF32(F32ToBF16(x[r * k + i]))) * BF16ToF32(w[c * k + i]);
      expected[r * n + c] = sum;
    }
  ThreadPool pool(threads);
  std::vector<float> y(m * n, -7.0f);
  LinearBf16(pool, x.data(), m, k, w.data(), n, with_bias ? bias.data() : nullptr, y.data());
  testing::ExpectClose(
      y, expected, 1e-4,
      "LinearBf16 " + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n));
}

TEST(LinearBf16Test, MatchesRoundedReference) {
  CheckAgainstReference(1, 64, 33, false, 1);
  CheckAgainstReference(7, 130, 65, true, 2);
  CheckAgainstReference(33, 256, 128, true, 3);
  CheckAgainstReference(7, 130, 65, true, 2);  // a cached primitive, reused
  CheckAgainstReference(8, 64, 600, true, 2);  // a decode batch split into column slices
}

// Decode batches (2 to 32 rows) take the dot-product kernel on CPUs with AVX512-BF16: rows in
// blocks of 8, weight rows in threes, and rows of k shorter than or not a multiple of 32.
TEST(LinearBf16Test, DecodeBatchesMatchRoundedReference) {
  CheckAgainstReference(2, 31, 5, false, 1);
  CheckAgainstReference(3, 32, 4, true, 2);
  CheckAgainstReference(8, 100, 7, true, 2);
  CheckAgainstReference(9, 64, 10, false, 2);
  CheckAgainstReference(32, 33, 65, true, 3);
  CheckAgainstReference(5, 1000, 130, true, 2);
}

TEST(LinearBf16Test, RejectsEmptySizes) {
  ThreadPool pool(1);
  std::vector<float> y(4);
  EXPECT_THROW(LinearBf16(pool, nullptr, 0, 4, nullptr, 4, nullptr, y.data()), Error);
}

}  // namespace
}  // namespace lightvlm::ops
