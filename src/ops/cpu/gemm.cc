// Linear layers through OpenBLAS's sgemm.
#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

// OpenBLAS keeps its own threads beside our ThreadPool; both are sized to the same number of
// cores so that a GEMM and the kernels around it never oversubscribe the machine (the two
// never run at once: ParallelFor and sgemm both return only when all their work is done).
// Set only when it changes, because openblas_set_num_threads is not free.
void MatchBlasThreads(const ThreadPool& pool) {
  if (openblas_get_num_threads() != pool.num_threads()) {
    openblas_set_num_threads(pool.num_threads());
  }
}

void AddBias(ThreadPool& pool, const float* bias, int64_t m, int64_t n, float* y) {
  pool.ParallelFor(
      m,
      [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          float* out = y + row * n;
          for (int64_t col = 0; col < n; ++col) out[col] += bias[col];
        }
      },
      std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n)));
}

}  // namespace

void Linear(ThreadPool& pool, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
            const float* bias, float* y) {
  Check(m >= 0 && k >= 0 && n >= 0, "Linear: negative size m=", m, " k=", k, " n=", n);
  constexpr int64_t kBlasMax = std::numeric_limits<blasint>::max();
  Check(m <= kBlasMax && k <= kBlasMax && n <= kBlasMax, "Linear: size m=", m, " k=", k, " n=", n,
        " exceeds the BLAS index range");
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::memset(y, 0, static_cast<size_t>(m * n) * sizeof(float));
  } else {
    MatchBlasThreads(pool);
    const auto rows = static_cast<blasint>(m);
    const auto cols = static_cast<blasint>(n);
    const auto depth = static_cast<blasint>(k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, depth, 1.0f, x, depth, w,
                depth, 0.0f, y, cols);
  }
  if (bias) AddBias(pool, bias, m, n, y);
}

}  // namespace lightvlm::ops
