// Element types of weights and activations, and conversions between them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lightvlm {

// kI8 holds quantised weights, whose scales live beside them (models/linear.h).
enum class DType : uint8_t { kF32, kF16, kBF16, kI8 };

size_t DTypeSize(DType dtype);
std::string_view DTypeName(DType dtype);  // "F32", "F16", "BF16", "I8" as safetensors spells them

float BF16ToF32(uint16_t bits);
uint16_t F32ToBF16(float value);  // round to nearest even, NaN kept NaN
float F16ToF32(uint16_t bits);
uint16_t F32ToF16(float value);  // round to nearest even, overflow to infinity

// Converts `count` elements of `dtype` at `src` to float32 at `dst`.
void ConvertToF32(const void* src, DType dtype, float* dst, size_t count);
// Converts `count` float32 values at `src` to `dtype` at `dst` (rounding to nearest even); fails
// for I8, which needs scales (ops::QuantizeInt8).
void ConvertFromF32(const float* src, DType dtype, void* dst, size_t count);

}  // namespace lightvlm
