// GGML tensor types as GGUF stores them: each type packs `block_size` elements into
// `block_bytes` bytes. The layouts follow the GGUF specification and gguf-py's gguf.quants
// (block_size 32 for Q4_0..Q8_0, 256 for the K-quants); dequantization gives float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lightvlm {

// The type ids of the GGUF specification (ggml_type). Ids 4 and 5 were removed formats.
enum class GgufType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct GgufTypeInfo {
  GgufType type;
  std::string_view name;  // as gguf-py spells it: "Q4_K"
  int64_t block_size;     // elements per block
  int64_t block_bytes;    // bytes per block
  bool dequantizable;     // DequantizeGguf supports it
};

// The type with id `id`, or nullptr when the id names no GGUF type.
const GgufTypeInfo* FindGgufType(uint32_t id);
const GgufTypeInfo& GgufTypeOf(GgufType type);

// Converts `count` elements (a whole number of blocks) of `type` at `src` to float32 at `dst`.
// `src` may be unaligned. Fails naming the type when it is not dequantizable. Each element is
// computed with the same float32 operations in the same order as gguf.quants.dequantize (ISO C++
// mode does not fuse a*b+c into one rounding), so the results are bit-identical to it.
void DequantizeGguf(GgufType type, const std::byte* src, float* dst, int64_t count);

}  // namespace lightvlm
