#include "ops/ops.h"

namespace lightvlm::ops {

void Add(ThreadPool& pool, float* y, const float* x, int64_t n) {
  constexpr int64_t kMinChunk = 1 << 14;  // below this, waking threads costs more than it saves
  pool.ParallelFor(
      n,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) y[i] += x[i];
      },
      kMinChunk);
}

}  // namespace lightvlm::ops
