#include "io/gguf_types.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "base/dtype.h"
#include "base/error.h"

namespace lightvlm {
namespace {

constexpr int64_t kQK = 32;    // elements per block of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0
constexpr int64_t kQKK = 256;  // elements per super-block of the K-quants

constexpr std::array<GgufTypeInfo, 32> kTypes = {{
    {GgufType::kF32, "F32", 1, 4, true},
    {GgufType::kF16, "F16", 1, 2, true},
    {GgufType::kQ4_0, "Q4_0", kQK, 2 + 16, true},
    {GgufType::kQ4_1, "Q4_1", kQK, 2 + 2 + 16, true},
    {GgufType::kQ5_0, "Q5_0", kQK, 2 + 4 + 16, true},
    {GgufType::kQ5_1, "Q5_1", kQK, 2 + 2 + 4 + 16, true},
    {GgufType::kQ8_0, "Q8_0", kQK, 2 + 32, true},
    {GgufType::kQ8_1, "Q8_1", kQK, 4 + 4 + 32, false},
    {GgufType::kQ2_K, "Q2_K", kQKK, 2 + 2 + kQKK / 16 + kQKK / 4, false},
    {GgufType::kQ3_K, "Q3_K", kQKK, 2 + kQKK / 4 + kQKK / 8 + 12, false},
    {GgufType::kQ4_K, "Q4_K", kQKK, 2 + 2 + 12 + kQKK / 2, true},
    {GgufType::kQ5_K, "Q5_K", kQKK, 2 + 2 + 12 + kQKK / 8 + kQKK / 2, true},
    {GgufType::kQ6_K, "Q6_K", kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2, true},
    {GgufType::kQ8_K, "Q8_K", kQKK, 4 + kQKK + kQKK / 8, false},
    {GgufType::kIQ2_XXS, "IQ2_XXS", kQKK, 2 + kQKK / 4, false},
    {GgufType::kIQ2_XS, "IQ2_XS", kQKK, 2 + kQKK / 4 + kQKK / 32, false},
    {GgufType::kIQ3_XXS, "IQ3_XXS", kQKK, 2 + kQKK / 4 + kQKK / 8, false},
    {GgufType::kIQ1_S, "IQ1_S", kQKK, 2 + kQKK / 8 + kQKK / 16, false},
    {GgufType::kIQ4_NL, "IQ4_NL", kQK, 2 + 16, false},
    {GgufType::kIQ3_S, "IQ3_S", kQKK, 2 + kQKK / 4 + kQKK / 8 + kQKK / 32 + 4, false},
    {GgufType::kIQ2_S, "IQ2_S", kQKK, 2 + kQKK / 4 + kQKK / 16, false},
    {GgufType::kIQ4_XS, "IQ4_XS", kQKK, 2 + 2 + kQKK / 2 + kQKK / 64, false},
    {GgufType::kI8, "I8", 1, 1, false},
    {GgufType::kI16, "I16", 1, 2, false},
    {GgufType::kI32, "I32", 1, 4, false},
    {GgufType::kI64, "I64", 1, 8, false},
    {GgufType::kF64, "F64", 1, 8, false},
    {GgufType::kIQ1_M, "IQ1_M", kQKK, kQKK / 8 + kQKK / 16 + kQKK / 32, false},
    {GgufType::kBF16, "BF16", 1, 2, true},
    {GgufType::kTQ1_0, "TQ1_0", kQKK, 2 + 4 * 13, false},
    {GgufType::kTQ2_0, "TQ2_0", kQKK, 2 + 64, false},
    {GgufType::kMXFP4, "MXFP4", kQK, 1 + 16, false},
}};

uint8_t Byte(const std::byte* p, int64_t i) { return std::to_integer<uint8_t>(p[i]); }

// A little-endian float16 at `p` (any alignment), widened exactly to float32.
float F16At(const std::byte* p) {
  return F16ToF32(static_cast<uint16_t>(Byte(p, 0) | (Byte(p, 1) << 8)));
}

uint32_t U32At(const std::byte* p) {
  return Byte(p, 0) | (Byte(p, 1) << 8) | (Byte(p, 2) << 16) | (uint32_t{Byte(p, 3)} << 24);
}

// Q4_0 and Q4_1: element i < 16 is the low nibble of byte i, element i + 16 its high nibble.
uint8_t Nibble(const std::byte* qs, int64_t i) {
  return i < kQK / 2 ? Byte(qs, i) & 0x0F : Byte(qs, i - kQK / 2) >> 4;
}

// Q5_0 and Q5_1: the nibble plus a fifth bit, bit i of the 32-bit word qh.
uint8_t FiveBits(const std::byte* qh, const std::byte* qs, int64_t i) {
  return Nibble(qs, i) | (((U32At(qh) >> i) & 1) << 4);
}

void DequantizeQ4_0(const std::byte* block, float* out) {
  const float d = F16At(block);
  for (int64_t i = 0; i < kQK; ++i) out[i] = d * static_cast<float>(Nibble(block + 2, i) - 8);
}

void DequantizeQ4_1(const std::byte* block, float* out) {
  const float d = F16At(block), m = F16At(block + 2);
  for (int64_t i = 0; i < kQK; ++i) out[i] = d * static_cast<float>(Nibble(block + 4, i)) + m;
}

void DequantizeQ5_0(const std::byte* block, float* out) {
  const float d = F16At(block);
  for (int64_t i = 0; i < kQK; ++i) {
    out[i] = d * static_cast<float>(FiveBits(block + 2, block + 6, i) - 16);
  }
}

void DequantizeQ5_1(const std::byte* block, float* out) {
  const float d = F16At(block), m = F16At(block + 2);
  for (int64_t i = 0; i < kQK; ++i) {
    out[i] = d * static_cast<float>(FiveBits(block + 4, block + 8, i)) + m;
  }
}

void DequantizeQ8_0(const std::byte* block, float* out) {
  const float d = F16At(block);
  for (int64_t i = 0; i < kQK; ++i) {
    out[i] = static_cast<float>(static_cast<int8_t>(Byte(block + 2, i))) * d;
  }
}

// The 6-bit scale and min of each of the 8 sub-blocks of a Q4_K / Q5_K super-block, packed into
// 12 bytes: bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3; scales and mins 4-7
// take their low 4 bits from bytes 8-11 and their high 2 bits from the top of bytes 0-7.
struct ScaleAndMin {
  float scale;
  float min;
};
ScaleAndMin KQuantScaleAndMin(const std::byte* scales, int j) {
  if (j < 4) {
    return {static_cast<float>(Byte(scales, j) & 0x3F),
            static_cast<float>(Byte(scales, j + 4) & 0x3F)};
  }
  const uint8_t low_bits = Byte(scales, j + 4);
  return {static_cast<float>((low_bits & 0x0F) | ((Byte(scales, j - 4) >> 2) & 0x30)),
          static_cast<float>((low_bits >> 4) | ((Byte(scales, j) >> 2) & 0x30))};
}

// Q4_K and Q5_K: d, dmin, 12 bytes of scales, [Q5_K: 32 bytes of fifth bits,] 128 bytes of
// nibbles. Sub-block j (32 elements) takes nibbles of bytes 32*(j/2).. (low nibble for even j,
// high for odd j); Q5_K's fifth bit of element i of sub-block j is bit j of qh[i].
void DequantizeKQuant(const std::byte* block, float* out, bool five_bits) {
  const float d = F16At(block), dmin = F16At(block + 2);
  const std::byte* scales = block + 4;
  const std::byte* qh = block + 16;
  const std::byte* qs = block + (five_bits ? 16 + kQKK / 8 : 16);
  for (int j = 0; j < 8; ++j) {
    const ScaleAndMin sm = KQuantScaleAndMin(scales, j);
    const float scale = d * sm.scale, min = dmin * sm.min;
    const std::byte* nibbles = qs + 32 * (j / 2);
    const int shift = 4 * (j % 2);
    for (int i = 0; i < 32; ++i) {
      int q = (Byte(nibbles, i) >> shift) & 0x0F;
      if (five_bits) q |= ((Byte(qh, i) >> j) & 1) << 4;
      out[32 * j + i] = scale * static_cast<float>(q) - min;
    }
  }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, d. Chunk c
// (32 elements) of the super-block: its low nibbles come from bytes 64*(c/4) + 32*(c%2).. shifted
// by 4*((c%4)/2), its high bits from bytes 32*(c/4).. shifted by 2*(c%4); element e uses scale
// e/16.
void DequantizeQ6_K(const std::byte* block, float* out) {
  const std::byte* ql = block;
  const std::byte* qh = block + kQKK / 2;
  const std::byte* scales = qh + kQKK / 4;
  const float d = F16At(scales + kQKK / 16);
  for (int c = 0; c < 8; ++c) {
    const std::byte* low = ql + 64 * (c / 4) + 32 * (c % 2);
    const int low_shift = 4 * ((c % 4) / 2);
    const std::byte* high = qh + 32 * (c / 4);
    const int high_shift = 2 * (c % 4);
    for (int i = 0; i < 32; ++i) {
      const int e = 32 * c + i;
      const int q =
          (((Byte(low, i) >> low_shift) & 0x0F) | (((Byte(high, i) >> high_shift) & 3) << 4)) - 32;
      const float scale = d * static_cast<float>(static_cast<int8_t>(Byte(scales, e / 16)));
      out[e] = scale * static_cast<float>(q);
    }
  }
}

void DequantizeBlocks(const GgufTypeInfo& info, const std::byte* src, float* dst, int64_t count) {
  const int64_t blocks = count / info.block_size;
  for (int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src + b * info.block_bytes;
    float* out = dst + b * info.block_size;
    switch (info.type) {
      case GgufType::kQ4_0:
        DequantizeQ4_0(block, out);
        break;
      case GgufType::kQ4_1:
        DequantizeQ4_1(block, out);
        break;
      case GgufType::kQ5_0:
        DequantizeQ5_0(block, out);
        break;
      case GgufType::kQ5_1:
        DequantizeQ5_1(block, out);
        break;
      case GgufType::kQ8_0:
        DequantizeQ8_0(block, out);
        break;
      case GgufType::kQ4_K:
        DequantizeKQuant(block, out, /*five_bits=*/false);
        break;
      case GgufType::kQ5_K:
        DequantizeKQuant(block, out, /*five_bits=*/true);
        break;
      case GgufType::kQ6_K:
        DequantizeQ6_K(block, out);
        break;
      default:
        Fail("GGUF type ", info.name, " cannot be dequantized");
    }
  }
}

// F32, F16 and BF16 through base's conversions, staged through an aligned buffer because `src`
// need not be aligned for the element type.
void ConvertFloats(DType dtype, const std::byte* src, float* dst, int64_t count) {
  constexpr int64_t kChunk = 4096;
  alignas(float) std::byte staging[kChunk * sizeof(float)];
  const size_t element_size = DTypeSize(dtype);
  for (int64_t done = 0; done < count; done += kChunk) {
    const int64_t n = std::min(kChunk, count - done);
    std::memcpy(staging, src + done * element_size, n * element_size);
    ConvertToF32(staging, dtype, dst + done, n);
  }
}

}  // namespace

const GgufTypeInfo* FindGgufType(uint32_t id) {
  for (const GgufTypeInfo& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return &info;
  }
  return nullptr;
}

const GgufTypeInfo& GgufTypeOf(GgufType type) {
  const GgufTypeInfo* info = FindGgufType(static_cast<uint32_t>(type));
  Check(info != nullptr, "GGUF type id ", static_cast<uint32_t>(type), " is unknown");
  return *info;
}

void DequantizeGguf(GgufType type, const std::byte* src, float* dst, int64_t count) {
  const GgufTypeInfo& info = GgufTypeOf(type);
  Check(info.dequantizable, "GGUF type ", info.name,
        " cannot be dequantized (supported: F32, F16, ",
        "BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)");
  Check(count % info.block_size == 0, "GGUF ", info.name, ": ", count,
        " elements are not a whole number of blocks of ", info.block_size);
  switch (type) {
    case GgufType::kF32:
      ConvertFloats(DType::kF32, src, dst, count);
      return;
    case GgufType::kF16:
      ConvertFloats(DType::kF16, src, dst, count);
      return;
    case GgufType::kBF16:
      ConvertFloats(DType::kBF16, src, dst, count);
      return;
    default:
      DequantizeBlocks(info, src, dst, count);
  }
}

}  // namespace lightvlm
