#include "ops/cpu/vector_ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "base/dtype.h"
#include "hwy/targets.h"
#include "ops/cpu/test_data.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

// Sizes around every SIMD width, and odd ones that leave a tail.
constexpr int64_t kSizes[] = {0, 1, 3, 4, 7, 8, 15, 16, 17, 33, 64, 130, 1001};

// Runs `check` once with each SIMD target that this CPU supports and the build compiled, so
// that every code path the dispatch can pick is tested, not only the best one.
void ForEachTarget(const std::function<void()>& check) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    check();
  }
  hwy::SetSupportedTargetsForTest(0);
}

TEST(VectorOpsTest, DotMatchesDoubleLoop) {
  ForEachTarget([] {
    std::mt19937 rng(1);
    for (int64_t n : kSizes) {
      // One element of offset makes the pointers unaligned.
      const auto a = RandomFloats(rng, n + 1);
      const auto b = RandomFloats(rng, n + 1);
      double expected = 0;
      for (int64_t i = 0; i < n; ++i) expected += static_cast<double>(a[i + 1]) * b[i + 1];
      EXPECT_NEAR(Dot(a.data() + 1, b.data() + 1, n), expected, 1e-5 * std::max(1.0, std::sqrt(n)))
          << "n=" << n;
    }
  });
}

TEST(VectorOpsTest, AddScaledMatchesDoubleLoop) {
  ForEachTarget([] {
    std::mt19937 rng(2);
    for (int64_t n : kSizes) {
      const auto x = RandomFloats(rng, n);
      auto y = RandomFloats(rng, n + 1);  // one guard element past the end
      const float guard = y[n];
      std::vector<double> expected(n);
      for (int64_t i = 0; i < n; ++i) expected[i] = y[i] + 0.75 * x[i];
      AddScaled(x.data(), 0.75f, y.data(), n);
      ExpectClose(std::span(y).first(n), expected, 1e-6, "n=" + std::to_string(n));
      EXPECT_EQ(y[n], guard) << "wrote past the end, n=" << n;
    }
  });
}

// Three query heads over two kv heads of each row, grouped as attention groups them (head h
// reads kv head h / group), rows read with a stride wider than the heads, zero weights (masked
// keys) among them; widths around the SIMD sizes.
TEST(VectorOpsTest, GroupedRowsMatchDoubleLoops) {
  ForEachTarget([] {
    std::mt19937 rng(5);
    constexpr int64_t kHeads = 4, kGroup = 2, kCount = 7;
    for (int64_t n : kSizes) {
      const int64_t stride = 2 * n + 3;
      const auto rows = RandomFloats(rng, kCount * stride);
      const auto q = RandomFloats(rng, kHeads * n);
      std::vector<float> logits(kHeads * (kCount + 1), -5.0f);  // [heads, kCount + 1]
      GroupedDotRows(q.data(), kHeads, kGroup, rows.data(), stride, kCount, n, 0.5f, logits.data(),
                     kCount + 1);
      std::vector<double> expected_logits(kHeads * (kCount + 1), -5.0);
      for (int64_t h = 0; h < kHeads; ++h) {
        for (int64_t j = 0; j < kCount; ++j) {
          double dot = 0;
          for (int64_t i = 0; i < n; ++i) {
            dot += double(q[h * n + i]) * rows[j * stride + (h / kGroup) * n + i];
          }
          expected_logits[h * (kCount + 1) + j] = 0.5 * dot;
        }
      }
      ExpectClose(logits, expected_logits, 1e-5, "logits n=" + std::to_string(n));

      auto weights = RandomFloats(rng, kHeads * kCount);
      weights[3] = 0.0f;
      auto y = RandomFloats(rng, kHeads * n + 1);  // one guard element past the end
      const float guard = y[kHeads * n];
      std::vector<double> expected(y.begin(), y.begin() + kHeads * n);
      for (int64_t h = 0; h < kHeads; ++h) {
        for (int64_t j = 0; j < kCount; ++j) {
          for (int64_t i = 0; i < n; ++i) {
            expected[h * n + i] +=
                double(weights[h * kCount + j]) * rows[j * stride + (h / kGroup) * n + i];
          }
        }
      }
      GroupedAddScaledRows(rows.data(), stride, weights.data(), kCount, kCount, n, kHeads, kGroup,
                           y.data());
      ExpectClose(std::span(y).first(kHeads * n), expected, 1e-5, "sums n=" + std::to_string(n));
      EXPECT_EQ(y[kHeads * n], guard) << "wrote past the end, n=" << n;
    }
  });
}

// The bfloat16 kernels read blocks of rows (one row per SIMD lane) and heads in sets of up to
// four, a kv head in chunks of twice the lanes (up to four at a time): counts of rows below,
// at and past a block, group sizes that leave a partial set (7) or several (8), and head sizes
// that leave a tail or need more than four chunks, on every target.
TEST(VectorOpsTest, GroupedBf16RowsMatchDoubleLoops) {
  ForEachTarget([] {
    std::mt19937 rng(6);
    struct Grouping {
      int64_t heads, group;
    };
    for (const Grouping grouping :
         {Grouping{9, 3}, Grouping{7, 7}, Grouping{8, 8}, Grouping{2, 1}}) {
      const int64_t heads = grouping.heads, group = grouping.group, kv_heads = heads / group;
      for (int64_t n : {1, 7, 16, 33, 64, 130}) {
        for (int64_t count : {1, 5, 16, 17, 40}) {
          const std::string label = "heads=" + std::to_string(heads) +
                                    " group=" + std::to_string(group) + " n=" + std::to_string(n) +
                                    " count=" + std::to_string(count);
          const int64_t stride = kv_heads * n + 3;
          std::vector<uint16_t> rows(count * stride);
          for (uint16_t& bits : rows) bits = F32ToBF16(RandomFloats(rng, 1, -2.0f, 2.0f)[0]);
          const auto row = [&](int64_t j, int64_t h, int64_t i) {
            return static_cast<double>(BF16ToF32(rows[j * stride + (h / group) * n + i]));
          };
          const auto q = RandomFloats(rng, heads * n);
          std::vector<float> logits(heads * (count + 1), -5.0f);  // [heads, count + 1]
          GroupedDotRowsBf16(q.data(), heads, group, rows.data(), stride, count, n, 0.5f,
                             logits.data(), count + 1);
          std::vector<double> expected_logits(heads * (count + 1), -5.0);
          for (int64_t h = 0; h < heads; ++h) {
            for (int64_t j = 0; j < count; ++j) {
              double dot = 0;
              for (int64_t i = 0; i < n; ++i) dot += q[h * n + i] * row(j, h, i);
              expected_logits[h * (count + 1) + j] = 0.5 * dot;
            }
          }
          ExpectClose(logits, expected_logits, 1e-5, "logits " + label);

          auto weights = RandomFloats(rng, heads * count);
          weights[count / 2] = 0.0f;
          auto y = RandomFloats(rng, heads * n + 1);  // one guard element past the end
          const float guard = y[heads * n];
          std::vector<double> expected(y.begin(), y.begin() + heads * n);
          for (int64_t h = 0; h < heads; ++h) {
            for (int64_t j = 0; j < count; ++j) {
              for (int64_t i = 0; i < n; ++i) {
                expected[h * n + i] += weights[h * count + j] * row(j, h, i);
              }
            }
          }
          GroupedAddScaledRowsBf16(rows.data(), stride, weights.data(), count, count, n, heads,
                                   group, y.data());
          ExpectClose(std::span(y).first(heads * n), expected, 1e-5, "sums " + label);
          EXPECT_EQ(y[heads * n], guard) << "wrote past the end, " << label;
        }
      }
    }
  });
}

TEST(VectorOpsTest, ScaleMatchesDoubleLoop) {
  ForEachTarget([] {
    std::mt19937 rng(3);
    for (int64_t n : kSizes) {
      auto x = RandomFloats(rng, n + 1);
      const float guard = x[n];
      std::vector<double> expected(x.begin(), x.begin() + n);
      for (double& value : expected) value *= -1.5;
      Scale(x.data(), -1.5f, n);
      ExpectClose(std::span(x).first(n), expected, 1e-7, "n=" + std::to_string(n));
      EXPECT_EQ(x[n], guard) << "wrote past the end, n=" << n;
    }
  });
}

TEST(VectorOpsTest, MaxFindsLargestAnywhere) {
  ForEachTarget([] {
    std::mt19937 rng(4);
    const float infinity = std::numeric_limits<float>::infinity();
    EXPECT_EQ(Max(nullptr, 0), -infinity);
    // Regression: clang's EMU128 target reduced from the lowest finite float, not -inf.
    for (int64_t n : {1, 3, 17}) {
      const std::vector<float> masked(n, -infinity);
      EXPECT_EQ(Max(masked.data(), n), -infinity) << "n=" << n;
    }
    for (int64_t n : kSizes) {
      if (n == 0) continue;
      for (int64_t position : {int64_t{0}, n / 2, n - 1}) {
        auto x = RandomFloats(rng, n, -10.0f, -1.0f);  // all negative: padding must not win
        x[position] = -0.5f;
        EXPECT_EQ(Max(x.data(), n), -0.5f) << "n=" << n << " position=" << position;
      }
    }
  });
}

TEST(VectorOpsTest, ExpShiftedSumMatchesDoubleLoop) {
  ForEachTarget([] {
    std::mt19937 rng(5);
    for (int64_t n : kSizes) {
      auto x = RandomFloats(rng, n, -20.0f, 5.0f);
      if (n > 2) x[n / 2] = -std::numeric_limits<float>::infinity();  // a masked entry
      std::vector<double> expected(n);
      double expected_sum = 0;
      for (int64_t i = 0; i < n; ++i) {
        expected[i] = std::exp(static_cast<double>(x[i]) - 5.0);
        expected_sum += expected[i];
      }
      const float sum = ExpShiftedSum(x.data(), 5.0f, n);
      ExpectClose(x, expected, 1e-6, "n=" + std::to_string(n));
      EXPECT_NEAR(sum, expected_sum, 1e-6 * std::max(1.0, expected_sum)) << "n=" << n;
      if (n > 2) {
        EXPECT_EQ(x[n / 2], 0.0f);
      }
    }
  });
}

}  // namespace
}  // namespace lightvlm::ops
