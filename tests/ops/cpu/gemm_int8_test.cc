#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

struct Quantized {
  std::vector<int8_t> q;
  std::vector<float> scales;
};

Quantized Quantize(const std::vector<float>& w, int64_t n, int64_t k, int64_t group) {
  Quantized out{std::vector<int8_t>(n * k), std::vector<float>(n * (k / group))};
  QuantizeInt8(w.data(), n, k, group, out.q.data(), out.scales.data());
  return out;
}

TEST(QuantizeInt8Test, RoundsEachGroupToItsOwnScale) {
  // Row 0 has two groups of very different magnitudes; row 1 is all zero.
  const std::vector<float> w = {0.5f, -1.0f, 0.25f, 0.0f, 10.0f, 5.0f, -2.5f, 1.0f,
                                0.0f, 0.0f,  0.0f,  0.0f, 0.0f,  0.0f, 0.0f,  0.0f};
  const Quantized per_group = Quantize(w, 2, 8, 4);
  EXPECT_FLOAT_EQ(per_group.scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(per_group.scales[1], 10.0f / 127);
  EXPECT_EQ(per_group.q[1], -127);  // the largest magnitude maps to 127
  EXPECT_EQ(per_group.q[2], 32);    // 0.25 * 127 = 31.75, rounded to nearest
  EXPECT_EQ(per_group.q[3], 0);
  EXPECT_EQ(per_group.q[4], 127);
  for (int i = 8; i < 16; ++i) EXPECT_EQ(per_group.q[i], 0);
  // Every value comes back within half a step of its group's scale.
  for (int i = 0; i < 8; ++i) {
    const float scale = per_group.scales[i / 4];
    EXPECT_LE(std::fabs(per_group.q[i] * scale - w[i]), scale / 2 + 1e-7f) << i;
  }
  const Quantized per_channel = Quantize(w, 2, 8, 8);
  EXPECT_FLOAT_EQ(per_channel.scales[0], 10.0f / 127);
  EXPECT_EQ(per_channel.q[3], 0);
}

// Products of up to this many rows (decode steps) round x to int16 per row.
constexpr int64_t kInt16Rows = 32;

// The reference multiplies the dequantised weights in double with x as the kernel rounds it
// (unless `exact_x`): the kernel must agree up to float32 accumulation.
void CheckAgainstReference(int64_t m, int64_t k, int64_t n, int64_t group, bool with_bias,
                           int threads, bool exact_x = false, double tolerance = 1e-5) {
  std::mt19937 rng(static_cast<unsigned>(m * 131 + k * 7 + n + group));
  const std::vector<float> input = testing::RandomFloats(rng, m * k);
  const std::vector<float> x =
      m <= kInt16Rows && !exact_x ? testing::RoundRowsToInt16Steps(input, m, k) : input;
  const std::vector<float> w = testing::RandomFloats(rng, n * k);
  const std::vector<float> bias = testing::RandomFloats(rng, n);
  const Quantized quantized = Quantize(w, n, k, group);
  std::vector<double> expected(m * n);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      double sum = with_bias ? bias[c] : 0.0;
      for (int64_t i = 0; i < k; ++i) {
        sum += double(x[r * k + i]) * quantized.q[c * k + i] *
               quantized.scales[c * (k / group) + i / group];
      }
      expected[r * n + c] = sum;
    }
  }
  ThreadPool pool(threads);
  std::vector<float> y(m * n, -7.0f);
  LinearInt8(pool, input.data(), m, k, quantized.q.data(), quantized.scales.data(), group, n,
             with_bias ? bias.data() : nullptr, y.data());
  testing::ExpectClose(y, expected, tolerance,
                       "LinearInt8 " + std::to_string(m) + "x" + std::to_string(k) + "x" +
                           std::to_string(n) + " group " + std::to_string(group));
}

TEST(LinearInt8Test, MatchesDequantisedReference) {
  CheckAgainstReference(1, 64, 33, 64, false, 1);   // a decode step, per channel
  CheckAgainstReference(7, 130, 65, 130, true, 2);  // ragged rows and columns
  CheckAgainstReference(9, 256, 40, 32, true, 3);   // per group
  CheckAgainstReference(4, 5, 3, 5, false, 2);      // shorter than one vector
  CheckAgainstReference(33, 96, 20, 96, true, 2);   // a prefill: x stays float32
  CheckAgainstReference(40, 130, 9, 13, false, 2);  // a prefill, per group
}

TEST(LinearInt8Test, DecodeRowsCoverLongRowsAndOddGroups) {
  CheckAgainstReference(8, 9000, 7, 9000, true, 2);  // int32 sums flushed every 4096 columns
  CheckAgainstReference(5, 300, 11, 100, false, 2);  // groups that are not whole vectors
  CheckAgainstReference(32, 64, 17, 64, true, 3);
}

// Regression: the int16 rows of x were padded by a vector of the baseline target (8 bytes) while
// the AVX-512 kernel loads 64 bytes from the last vector's start, so row lengths that are not a
// multiple of 32 read past the rows (AddressSanitizer: heap-buffer-overflow in DotInt16Rows).
TEST(LinearInt8Test, DecodeRowsOfAnyLengthStayInsideTheirBuffer) {
  for (const int64_t k : {1, 17, 31, 33, 47, 63, 100, 130, 257}) {
    CheckAgainstReference(1, k, 5, k, true, 1);
    CheckAgainstReference(3, k, 4, k, false, 2);
  }
}

// Rounding x to int16 (steps of 1 / 32767 of the row's largest value) keeps decode products
// within 2e-3 of those with the exact x; rounding x to bf16 (8 significant bits, as the bf16
// weights' products do) misses products of these sizes by 5e-2 to 8e-2.
TEST(LinearInt8Test, DecodeRowsStayCloseToExactActivations) {
  CheckAgainstReference(1, 1536, 64, 1536, true, 2, /*exact_x=*/true, 2e-3);
  CheckAgainstReference(8, 8960, 16, 8960, false, 2, /*exact_x=*/true, 2e-3);
}

TEST(LinearInt8Test, RejectsGroupsThatDoNotDivideTheRow) {
  ThreadPool pool(1);
  std::vector<float> x(8), y(2), scales(4);
  std::vector<int8_t> w(16);
  EXPECT_THROW(LinearInt8(pool, x.data(), 1, 8, w.data(), scales.data(), 3, 2, nullptr, y.data()),
               Error);
  EXPECT_THROW(QuantizeInt8(x.data(), 1, 8, 3, w.data(), scales.data()), Error);
}

}  // namespace
}  // namespace lightvlm::ops
