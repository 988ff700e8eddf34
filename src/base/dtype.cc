#include "base/dtype.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "base/error.h"

namespace lightvlm {

size_t DTypeBits(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 32;
    case DType::kF16:
    case DType::kBF16:
      return 16;
    case DType::kI8:
      return 8;
    case DType::kQ4:
      return 4;
  }
  Fail("unknown dtype");
}

size_t DTypeSize(DType dtype) {
  Check(DTypeBits(dtype) % 8 == 0, DTypeName(dtype), " elements are smaller than a byte");
  return DTypeBits(dtype) / 8;
}

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI8:
      return "I8";
    case DType::kQ4:
      return "Q4";
  }
  Fail("unknown dtype");
}

float BF16ToF32(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

float F16ToF32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1F;
  const uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000 | (mantissa << 13));
  if (exponent == 0) {
    // Subnormal or zero: value = mantissa * 2^-24.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t F32ToF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  if (std::isnan(value)) return sign | 0x7E00;
  const float magnitude = std::fabs(value);
  if (magnitude >= 65520.0f) return sign | 0x7C00;
  if (magnitude < 6.103515625e-05f) {
    // Subnormal range: the result is magnitude / 2^-24 rounded to nearest even.
    return sign | static_cast<uint16_t>(std::nearbyint(magnitude * 16777216.0f));
  }
  uint32_t rounded = bits & 0x7FFFFFFF;
  rounded += 0xFFF + ((rounded >> 13) & 1);
  return sign | static_cast<uint16_t>(((rounded >> 13) - (112 << 10)) & 0x7FFF);
}

void ConvertToF32(const void* src, DType dtype, float* dst, size_t count) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = F16ToF32(in[i]);
      return;
    }
    case DType::kBF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = BF16ToF32(in[i]);
      return;
    }
    case DType::kI8: {
      const auto* in = static_cast<const int8_t*>(src);
      for (size_t i = 0; i < count; ++i) dst[i] = in[i];
      return;
    }
    case DType::kQ4:
      Fail("Q4 to float32 needs scales: see ops::LinearQ4");
  }
  Fail("unknown dtype");
}

void ConvertFromF32(const float* src, DType dtype, void* dst, size_t count) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < count; ++i) out[i] = F32ToF16(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < count; ++i) out[i] = F32ToBF16(src[i]);
      return;
    }
    case DType::kI8:
      Fail("float32 to I8 needs scales: quantise with ops::QuantizeInt8");
    case DType::kQ4:
      Fail("float32 to Q4 needs scales: quantise with ops::QuantizeQ4");
  }
  Fail("unknown dtype");
}

}  // namespace lightvlm
