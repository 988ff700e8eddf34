// Linear layers with bfloat16 weights through oneDNN's matmul, which picks the machine's bf16
// units at run time (AMX, AVX512-BF16) and falls back to converting kernels on CPUs without
// them. Activations arrive in float32 and are rounded to bf16 for the product; accumulation and
// the output stay float32, as PyTorch does for bf16 matmuls on CPU.
#include <omp.h>

#include <map>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "base/dtype.h"
#include "base/error.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_bf16_rows.h"
#include "ops/ops.h"

namespace lightvlm::ops {
namespace {

using dnnl::memory;

struct MatmulKey {
  int64_t m, k, n;
  int64_t ldy;  // distance between rows of y: n, or more when y is a column slice of a wider y
  bool bias;
  bool operator<(const MatmulKey& other) const {
    return std::tie(m, k, n, ldy, bias) <
           std::tie(other.m, other.k, other.n, other.ldy, other.bias);
  }
};

// Primitives are costly to create and reusable for one shape: one engine, one cache.
class MatmulCache {
 public:
  static MatmulCache& Get() {
    static MatmulCache cache;
    return cache;
  }

  void Run(const MatmulKey& key, const uint16_t* x, const uint16_t* w, const float* bias,
           float* y) {
    // The lock guards the map only: executing a primitive is thread-safe, and the decode path
    // runs slices of one product on several threads at once.
    std::unique_lock lock(mutex_);
    auto found = primitives_.find(key);
    if (found == primitives_.end()) found = primitives_.emplace(key, Create(key)).first;
    lock.unlock();
    dnnl::stream stream(engine_);
    const auto& [primitive, src, weights, bias_desc, dst] = found->second;
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, memory(src, engine_, const_cast<uint16_t*>(x))},
        {DNNL_ARG_WEIGHTS, memory(weights, engine_, const_cast<uint16_t*>(w))},
        {DNNL_ARG_DST, memory(dst, engine_, y)}};
    if (key.bias) args.emplace(DNNL_ARG_BIAS, memory(bias_desc, engine_, const_cast<float*>(bias)));
    primitive.execute(stream, args);
    stream.wait();
  }

 private:
  using Entry = std::tuple<dnnl::matmul, memory::desc, memory::desc, memory::desc, memory::desc>;

  Entry Create(const MatmulKey& key) {
    using dt = memory::data_type;
    using tag = memory::format_tag;
    const memory::desc src({key.m, key.k}, dt::bf16, tag::ab);
    // The weight is stored [n, k] (nn.Linear); as the [k, n] operand that is layout "ba".
    const memory::desc weights({key.k, key.n}, dt::bf16, tag::ba);
    const memory::desc bias({1, key.n}, dt::f32, tag::ab);
    const memory::desc dst({key.m, key.n}, dt::f32, memory::dims{key.ldy, 1});
    const auto desc = key.bias ? dnnl::matmul::desc(src, weights, bias, dst)
                               : dnnl::matmul::desc(src, weights, dst);
    return {dnnl::matmul(dnnl::matmul::primitive_desc(desc, engine_)), src, weights, bias, dst};
  }

  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  std::mutex mutex_;
  std::map<MatmulKey, Entry> primitives_;
};

// Products of at most this many rows are decode steps (a batch of sequences, one row each).
constexpr int64_t kDecodeRows = 32;

}  // namespace

std::vector<uint16_t> RoundToBf16(ThreadPool& pool, const float* x, int64_t count) {
  std::vector<uint16_t> rounded(count);
  pool.ParallelFor(
      count,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) rounded[i] = F32ToBF16(x[i]);
      },
      1 << 14);
  return rounded;
}

void MatmulBf16(ThreadPool& pool, const uint16_t* x, int64_t m, int64_t k, const uint16_t* w,
                int64_t n, const float* bias, float* y, int64_t ldy) {
  // oneDNN runs on OpenMP threads; size them like our pool so the two never oversubscribe.
  if (omp_get_max_threads() != pool.num_threads()) omp_set_num_threads(pool.num_threads());
  MatmulCache::Get().Run({m, k, n, ldy, bias != nullptr}, x, w, bias, y);
}

void LinearBf16(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint16_t* w,
                int64_t n, const float* bias, float* y) {
  Check(m > 0 && k > 0 && n > 0, "LinearBf16: sizes must be positive, got m=", m, " k=", k,
        " n=", n);
  const std::vector<uint16_t> x_bf16 = RoundToBf16(pool, x, m * k);
  // A single row is bound by the weight's bytes, which oneDNN streams at the copy bandwidth;
  // from two rows on the product's arithmetic counts, and the dot-product kernel does it without
  // repacking the weight.
  if (m >= 2 && m <= kDecodeRows && HasBf16DotProduct()) {
    pool.ParallelFor(
        n,
        [&](int64_t begin, int64_t end) {
          LinearBf16FewRows(x_bf16.data(), m, k, w, begin, end, bias, y, n);
        },
        64);
    return;
  }
  if (m <= kDecodeRows && pool.num_threads() > 1) {
    // A decode step's products (one row per sequence) are split by output columns over our own
    // threads, each running oneDNN on a single OpenMP thread. Left to OpenMP, its workers spin
    // after every product on the cores our pool needs for the next op (measured on 2 cores:
    // decode steps 30x slower at batch 1, over 1 s instead of 50 ms; 6x slower at batch 8).
    pool.ParallelFor(
        n,
        [&](int64_t begin, int64_t end) {
          if (omp_get_max_threads() != 1) omp_set_num_threads(1);
          MatmulCache::Get().Run({m, k, end - begin, n, bias != nullptr}, x_bf16.data(),
                                 w + begin * k, bias != nullptr ? bias + begin : nullptr,
                                 y + begin);
        },
        256);
    return;
  }
  MatmulBf16(pool, x_bf16.data(), m, k, w, n, bias, y, n);
}

}  // namespace lightvlm::ops
