// Attention of many query rows (a prefill, a vision tower) as matrix products: see
// attention_tiles.cc.
#pragma once

#include <cstdint>
#include <span>

#include "base/thread_pool.h"
#include "ops/ops.h"

namespace lightvlm::ops {

// ops::Attention's contract for arguments it has already checked; worth it from a few dozen
// query rows on.
void AttendQueryTiles(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
                      const KeyValues& kv, const int64_t* key_index, int64_t n_kv,
                      const AttentionShape& shape, bool causal, float* out,
                      std::span<const int64_t> score_rows, float* scores);

}  // namespace lightvlm::ops
