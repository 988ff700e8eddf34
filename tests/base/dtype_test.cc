#include "base/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "base/error.h"

namespace lightvlm {
namespace {

bool IsF16NaN(uint16_t bits) { return (bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0; }
bool IsBF16NaN(uint16_t bits) { return (bits & 0x7F80) == 0x7F80 && (bits & 0x7F) != 0; }

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeName(DType::kF32), "F32");
  EXPECT_EQ(DTypeName(DType::kF16), "F16");
  EXPECT_EQ(DTypeName(DType::kBF16), "BF16");
}

// Every non-NaN 16-bit pattern (zeros, subnormals, normals, infinities) is exactly a float, so
// converting to float and back must give the same bits.
TEST(DTypeTest, EveryBF16ValueRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    if (IsBF16NaN(bits)) continue;
    ASSERT_EQ(F32ToBF16(BF16ToF32(bits)), bits) << std::hex << bits;
  }
}

TEST(DTypeTest, EveryF16ValueRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    if (IsF16NaN(bits)) continue;
    ASSERT_EQ(F32ToF16(F16ToF32(bits)), bits) << std::hex << bits;
  }
}

TEST(DTypeTest, KnownValues) {
  EXPECT_EQ(BF16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(BF16ToF32(0xC020), -2.5f);
  EXPECT_EQ(F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(F16ToF32(0xC100), -2.5f);
  EXPECT_EQ(F16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));     // smallest subnormal
  EXPECT_EQ(F16ToF32(0x03FF), std::ldexp(1023.0f, -24));  // largest subnormal
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));     // smallest normal
}

TEST(DTypeTest, BF16RoundsToNearestEven) {
  // Halfway between 1 (even mantissa) and 1 + 2^-7: down to the even one.
  EXPECT_EQ(F32ToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // Halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up to the even one.
  EXPECT_EQ(F32ToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  // Just above halfway: up.
  EXPECT_EQ(F32ToBF16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_EQ(F32ToBF16(-1.0f - std::ldexp(1.0f, -8)), 0xBF80);
}

TEST(DTypeTest, F16RoundsToNearestEven) {
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3C01);
  // A carry out of the mantissa moves to the next exponent.
  EXPECT_EQ(F32ToF16(2.0f - std::ldexp(1.0f, -12)), 0x4000);
}

TEST(DTypeTest, F16InfinityAndOverflow) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(F32ToF16(inf), 0x7C00);
  EXPECT_EQ(F32ToF16(-inf), 0xFC00);
  EXPECT_EQ(F16ToF32(0x7C00), inf);
  EXPECT_EQ(F16ToF32(0xFC00), -inf);
  EXPECT_EQ(F32ToF16(65519.0f), 0x7BFF);  // below halfway to 65536: the largest finite
  EXPECT_EQ(F32ToF16(65520.0f), 0x7C00);  // halfway rounds to even, which is infinity
  EXPECT_EQ(F32ToF16(-1e10f), 0xFC00);
}

TEST(DTypeTest, NaNStaysNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(IsF16NaN(F32ToF16(nan)));
  EXPECT_TRUE(IsBF16NaN(F32ToBF16(nan)));
  // A NaN whose payload lies only in the bits that BF16 drops must not become infinity.
  EXPECT_TRUE(IsBF16NaN(F32ToBF16(std::bit_cast<float>(0x7F800001u))));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7E00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7C01)));
  EXPECT_TRUE(std::isnan(BF16ToF32(0x7FC0)));
}

TEST(DTypeTest, F16SubnormalsAndUnderflow) {
  const float tiny = std::ldexp(1.0f, -24);
  EXPECT_EQ(F32ToF16(tiny), 0x0001);
  EXPECT_EQ(F32ToF16(tiny / 2), 0x0000);      // halfway to zero: even is zero
  EXPECT_EQ(F32ToF16(3 * tiny / 2), 0x0002);  // halfway between 1 and 2 ulps: even is 2
  EXPECT_EQ(F32ToF16(-tiny), 0x8001);
  EXPECT_EQ(F32ToF16(1e-10f), 0x0000);
  EXPECT_EQ(F32ToF16(-1e-10f), 0x8000);  // the sign of zero is kept
  // Halfway between the largest subnormal and the smallest normal: even is the normal one.
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)), 0x0400);
}

#ifdef __FLT16_MAX__
// The compiler's own float -> _Float16 conversion (IEEE, round to nearest even) as an
// independent oracle over many random floats of every magnitude.
TEST(DTypeTest, F16MatchesCompilerConversion) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits_distribution;
  for (int i = 0; i < 1000000; ++i) {
    const float value = std::bit_cast<float>(bits_distribution(rng));
    if (std::isnan(value)) continue;
    const auto expected = std::bit_cast<uint16_t>(static_cast<_Float16>(value));
    ASSERT_EQ(F32ToF16(value), expected) << value;
  }
}
#endif

TEST(DTypeTest, ConvertToF32) {
  const std::vector<float> f32 = {1.0f, -2.5f, 0.0f};
  const std::vector<uint16_t> f16 = {0x3C00, 0xC100, 0x0000};
  const std::vector<uint16_t> bf16 = {0x3F80, 0xC020, 0x0000};
  std::vector<float> out(3);
  ConvertToF32(f32.data(), DType::kF32, out.data(), 3);
  EXPECT_EQ(out, f32);
  ConvertToF32(f16.data(), DType::kF16, out.data(), 3);
  EXPECT_EQ(out, f32);
  ConvertToF32(bf16.data(), DType::kBF16, out.data(), 3);
  EXPECT_EQ(out, f32);
}

}  // namespace
}  // namespace lightvlm
