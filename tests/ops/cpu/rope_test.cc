#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "ops/cpu/test_data.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using testing::ExpectClose;
using testing::RandomFloats;

std::vector<float> InvFreq(int64_t rotary_dim, double theta) {
  std::vector<float> inv_freq(rotary_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / rotary_dim));
  }
  return inv_freq;
}

// q * cos + rotate_half(q) * sin on the first rotary_dim elements of each head, as
// transformers writes it, with rotate_half(q) = [-q2, q1]. The angle is a float32 product, as
// in the reference.
std::vector<double> ReferenceRope(const std::vector<float>& x, int64_t rows, int64_t heads,
                                  int64_t head_dim, const std::vector<int64_t>& positions,
                                  const std::vector<float>& inv_freq, double scaling) {
  const auto half = static_cast<int64_t>(inv_freq.size());
  std::vector<double> y(x.begin(), x.end());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t base = (r * heads + h) * head_dim;
      for (int64_t i = 0; i < 2 * half; ++i) {
        const double angle = static_cast<float>(positions[r]) * inv_freq[i % half];
        const double rotated = i < half ? -x[base + i + half] : x[base + i - half];
        y[base + i] = (x[base + i] * std::cos(angle) + rotated * std::sin(angle)) * scaling;
      }
    }
  }
  return y;
}

struct RopeCase {
  int64_t heads, head_dim, rotary_dim;
  float scaling;
};

TEST(RopeTest, MatchesReferenceFormula) {
  std::mt19937 rng(31);
  std::uniform_int_distribution<int64_t> position_distribution(0, 5000);
  ThreadPool pool(3);
  constexpr int64_t kRows = 7;
  for (const RopeCase& c : {RopeCase{3, 10, 6, 1.0f}, RopeCase{2, 64, 64, 1.0f},
                            RopeCase{4, 33, 16, 0.7f}, RopeCase{1, 2, 2, 1.0f}}) {
    auto x = RandomFloats(rng, kRows * c.heads * c.head_dim);
    std::vector<int64_t> positions(kRows);
    for (int64_t& position : positions) position = position_distribution(rng);
    const auto inv_freq = InvFreq(c.rotary_dim, 10000.0);
    const auto expected =
        ReferenceRope(x, kRows, c.heads, c.head_dim, positions, inv_freq, c.scaling);
    ApplyRope(pool, x.data(), kRows, c.heads, c.head_dim, positions.data(), inv_freq, c.scaling);
    ExpectClose(
        x, expected, 1e-6,
        "head_dim=" + std::to_string(c.head_dim) + " rotary_dim=" + std::to_string(c.rotary_dim));
  }
}

TEST(RopeTest, PartialRotaryLeavesTailUntouched) {
  std::mt19937 rng(32);
  ThreadPool pool(1);
  auto x = RandomFloats(rng, 2 * 3 * 10);
  const auto original = x;
  const std::vector<int64_t> positions = {17, 4000};
  ApplyRope(pool, x.data(), 2, 3, 10, positions.data(), InvFreq(6, 10000.0));
  for (int64_t head = 0; head < 2 * 3; ++head) {
    for (int64_t i = 6; i < 10; ++i) EXPECT_EQ(x[head * 10 + i], original[head * 10 + i]);
  }
}

TEST(RopeTest, PositionZeroIsIdentity) {
  std::mt19937 rng(33);
  ThreadPool pool(2);
  auto x = RandomFloats(rng, 3 * 4 * 16);
  const auto original = x;
  const std::vector<int64_t> positions(3, 0);
  ApplyRope(pool, x.data(), 3, 4, 16, positions.data(), InvFreq(16, 500000.0));
  EXPECT_EQ(x, original);
}

TEST(RopeTest, RejectsRotaryDimBeyondHeadDim) {
  ThreadPool pool(1);
  std::vector<float> x(8);
  const int64_t position = 1;
  EXPECT_THROW(ApplyRope(pool, x.data(), 1, 1, 8, &position, InvFreq(10, 10000.0)), Error);
}

// M-RoPE as transformers' apply_multimodal_rotary_pos_emb writes it: frequencies split by
// mrope_section [2, 3, 3], each section turned by its own axis (temporal, height, width).
TEST(RopeTest, MultiAxisTurnsEachFrequencyByItsAxis) {
  std::mt19937 rng(34);
  ThreadPool pool(2);
  constexpr int64_t kRows = 5, kHeads = 3, kHeadDim = 16;
  auto x = RandomFloats(rng, kRows * kHeads * kHeadDim);
  const std::vector<float> inv_freq = InvFreq(kHeadDim, 1e6);
  const std::vector<int32_t> axis = {0, 0, 1, 1, 1, 2, 2, 2};
  const std::vector<int64_t> positions = {0, 0, 0, 3, 3, 3, 3, 4, 9, 3, 5, 7, 700, 12, 40};
  std::vector<double> expected(x.begin(), x.end());
  for (int64_t r = 0; r < kRows; ++r) {
    for (int64_t h = 0; h < kHeads; ++h) {
      const int64_t base = (r * kHeads + h) * kHeadDim;
      for (int64_t i = 0; i < kHeadDim; ++i) {
        const int64_t f = i % (kHeadDim / 2);
        const double angle = static_cast<float>(positions[r * 3 + axis[f]]) * inv_freq[f];
        const double rotated = i < kHeadDim / 2 ? -x[base + i + kHeadDim / 2] : x[base + f];
        expected[base + i] = x[base + i] * std::cos(angle) + rotated * std::sin(angle);
      }
    }
  }
  ApplyMultiAxisRope(pool, x.data(), kRows, kHeads, kHeadDim, positions.data(), 3, axis, inv_freq);
  ExpectClose(x, expected, 1e-6, "mrope");
}

TEST(RopeTest, MultiAxisRejectsAnAxisBeyondThePositions) {
  ThreadPool pool(1);
  std::vector<float> x(8);
  const std::vector<int64_t> positions = {1, 2};
  const std::vector<int32_t> axis = {0, 2};
  EXPECT_THROW(
      ApplyMultiAxisRope(pool, x.data(), 1, 2, 4, positions.data(), 2, axis, InvFreq(4, 10000.0)),
      Error);
}

}  // namespace
}  // namespace lightvlm::ops
