#include "ops/cpu/int16_rows.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "ops/cpu/test_data.h"

namespace lightvlm::ops {
namespace {

// Each value as std::lround(x / scale) gives it, the scale mapping the row's largest magnitude to
// 32767, and zeros past k.
void ExpectRoundedAsLround(const std::vector<float>& x, int64_t m, int64_t k, int64_t lanes) {
  const QuantizedRows rows = QuantizeRowsInt16(x.data(), m, k, lanes);
  ASSERT_GE(rows.padded_k, k + lanes - 1);
  ASSERT_EQ(rows.padded_k % lanes, 0);
  for (int64_t r = 0; r < m; ++r) {
    float largest = 0;
    for (int64_t i = 0; i < k; ++i) largest = std::max(largest, std::fabs(x[r * k + i]));
    const float scale = largest > 0 ? largest / 32767.0f : 1.0f;
    ASSERT_EQ(rows.scales[r], scale) << "row " << r;
    for (int64_t i = 0; i < rows.padded_k; ++i) {
      const long expected = i < k ? std::lround(x[r * k + i] / scale) : 0;
      ASSERT_EQ(rows.values[r * rows.padded_k + i], expected) << "row " << r << ", column " << i;
    }
  }
}

// Halves round away from zero, in the vectors as in the values that do not fill one, on every
// SIMD target this build compiled and this CPU runs (nearest-even rounding would give 0, 2, -2).
TEST(QuantizeRowsInt16Test, RoundsHalvesAwayFromZeroOnEveryTarget) {
  // 32767 is the largest magnitude, so the scale is 1 and x / scale is x.
  std::vector<float> row(41);
  for (size_t i = 0; i < row.size(); ++i) {
    const float half = static_cast<float>(i % 5) + 0.5f;
    row[i] = i % 2 == 0 ? half : -half;
  }
  row[7] = 32767.0f;
  for (const int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    const QuantizedRows rows = QuantizeRowsInt16(row.data(), 1, 41, 1);
    EXPECT_EQ(rows.scales[0], 1.0f);
    EXPECT_EQ(rows.values[0], 1);    // 0.5
    EXPECT_EQ(rows.values[1], -2);   // -1.5
    EXPECT_EQ(rows.values[2], 3);    // 2.5
    EXPECT_EQ(rows.values[40], 1);   // 0.5, past the last whole vector
    EXPECT_EQ(rows.values[39], -5);  // -4.5
    ExpectRoundedAsLround(row, 1, 41, 1);
  }
  hwy::SetSupportedTargetsForTest(0);  // back to what the CPU supports
}

TEST(QuantizeRowsInt16Test, MatchesLroundAndPadsWithZeros) {
  std::mt19937 rng(3);
  for (const int64_t k : {1, 7, 16, 33, 576}) {
    for (const int64_t lanes : {1, 8, 32}) {
      ExpectRoundedAsLround(testing::RandomFloats(rng, 3 * k, -4.0f, 4.0f), 3, k, lanes);
    }
  }
  ExpectRoundedAsLround(std::vector<float>(20, 0.0f), 2, 10, 16);  // an all-zero row: scale 1
}

}  // namespace
}  // namespace lightvlm::ops
