// Element types of weights and activations, and conversions between them.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lightvlm {

// kI8 and kQ4 hold quantised weights, whose scales live beside them (models/linear.h); kQ4 packs
// two 4-bit weights a byte.
enum class DType : uint8_t { kF32, kF16, kBF16, kI8, kQ4 };

size_t DTypeBits(DType dtype);
size_t DTypeSize(DType dtype);  // bytes of one element; fails for Q4, whose elements are half bytes
// "F32", "F16", "BF16", "I8" as safetensors spells them; "Q4"
std::string_view DTypeName(DType dtype);

float BF16ToF32(uint16_t bits);

// Round to nearest even, NaN kept NaN. Inline and without branches, so that loops over arrays
// (every bf16 product's activations) vectorize: called out of line, it took 11% of a prefill.
inline uint16_t F32ToBF16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40;
  return static_cast<uint16_t>(value != value ? quiet_nan : rounded);
}

float F16ToF32(uint16_t bits);
uint16_t F32ToF16(float value);  // round to nearest even, overflow to infinity

// Converts `count` elements of `dtype` at `src` to float32 at `dst`.
void ConvertToF32(const void* src, DType dtype, float* dst, size_t count);
// Converts `count` float32 values at `src` to `dtype` at `dst` (rounding to nearest even); fails
// for I8 and Q4, which need scales (ops::QuantizeInt8, ops::QuantizeQ4).
void ConvertFromF32(const float* src, DType dtype, void* dst, size_t count);

}  // namespace lightvlm
