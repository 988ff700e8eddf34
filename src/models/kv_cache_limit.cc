#include "models/kv_cache_limit.h"

#include "base/error.h"
#include "models/kv_cache.h"

namespace lightvlm {

void CheckKvCacheBytes(const LlmConfig& config, int64_t capacity, int64_t sequences, DType dtype,
                       int64_t max_bytes, const std::string& source, const std::string& to_lower) {
  const double bytes =
      static_cast<double>(sequences) *
      KvCache::BytesAtCapacity(config.num_layers, config.kv_dim(), capacity, dtype);
  if (bytes <= static_cast<double>(max_bytes)) return;
  // Exact while it fits an int64 (config sizes are bounded, so it nearly always does).
  const std::string bytes_text = bytes < 9e18 ? StrCat(static_cast<int64_t>(bytes)) : StrCat(bytes);
  Fail("KV cache of ", capacity, " tokens (", source, ") x ", config.num_layers, " layers x ",
       config.num_kv_heads, " KV heads x ", config.head_dim, " head dim",
       sequences > 1 ? StrCat(" x ", sequences, " sequences") : "", " can reach ", bytes_text,
       " bytes, over --max-kv-bytes ", max_bytes, ": ",
       to_lower.empty() ? "raise --max-kv-bytes"
                        : StrCat("lower ", to_lower, " or raise --max-kv-bytes"));
}

}  // namespace lightvlm
