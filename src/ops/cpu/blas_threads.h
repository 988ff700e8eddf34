// OpenBLAS keeps its own threads beside our ThreadPool; both are sized to the same number of
// cores so that a GEMM and the kernels around it never oversubscribe the machine (the two never
// run at once: ParallelFor and sgemm both return only when all their work is done).
#pragma once

#include <cblas.h>

#include "base/thread_pool.h"

namespace lightvlm::ops {

// Set only when it changes, because openblas_set_num_threads is not free.
inline void MatchBlasThreads(const ThreadPool& pool) {
  if (openblas_get_num_threads() != pool.num_threads()) {
    openblas_set_num_threads(pool.num_threads());
  }
}

}  // namespace lightvlm::ops
