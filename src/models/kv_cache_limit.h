// --max-kv-bytes, the limit every command that creates KV caches checks them against before it
// creates them: their worst case, every entry of every layer filled, so that a huge context fails
// at once with a clear error instead of growing until memory runs out.
#pragma once

#include <cstdint>
#include <string>

#include "base/dtype.h"
#include "models/llm_config.h"

namespace lightvlm {

inline constexpr int64_t kDefaultMaxKvBytes = int64_t{64} << 30;

// Fails when `sequences` caches of `capacity` tokens of `config`'s decoder, in `dtype`, can
// reach more than `max_bytes`. The error names the sizes, `source` (what set the capacity) and
// `to_lower` (the flags that shrink it; empty when none does).
void CheckKvCacheBytes(const LlmConfig& config, int64_t capacity, int64_t sequences, DType dtype,
                       int64_t max_bytes, const std::string& source, const std::string& to_lower);

}  // namespace lightvlm
