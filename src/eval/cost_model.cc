#include "eval/cost_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "base/tensor.h"
#include "models/kv_cache.h"
#include "models/linear.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

double WeightsPerLayer(const LlmConfig& c) {
  const double h = static_cast<double>(c.hidden_size);
  return h * c.q_dim() * 2 + h * c.kv_dim() * 2 + 3.0 * h * c.intermediate_size;
}

template <class Work>
double BestSeconds(int repeats, Work work) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

double LayerPrefillFlops(const LlmConfig& c, int64_t tokens) {
  const double n = static_cast<double>(tokens);
  const double projections = 2.0 * n * WeightsPerLayer(c);
  const double pairs = n * (n + 1) / 2;
  const double attention = 2.0 * 2.0 * pairs * c.num_heads * c.head_dim;
  return projections + attention;
}

double PrefillFlops(const LlmConfig& c, const std::vector<int64_t>& live_tokens) {
  double total = 2.0 * c.hidden_size * c.vocab_size;  // logits of the last row
  for (int64_t tokens : live_tokens) total += LayerPrefillFlops(c, tokens);
  return total;
}

namespace {

// Bytes of `weights` weights in `dtype`, in `rows` rows, their scales included: int8 matrices
// carry one float32 scale per row, 4-bit ones a bf16 scale and min per group of ops::kQ4Group.
double MatrixBytes(double weights, double rows, DType dtype) {
  double scales = 0;
  if (dtype == DType::kI8) scales = rows * sizeof(float);
  if (dtype == DType::kQ4) scales = weights / ops::kQ4Group * 2 * sizeof(uint16_t);
  return weights * DTypeBits(dtype) / 8 + scales;
}

}  // namespace

double DecoderWeightBytes(const LlmConfig& c, DType dtype) {
  const double rows_per_layer =
      c.q_dim() + 2.0 * c.kv_dim() + 2.0 * c.hidden_size + 2.0 * c.intermediate_size;
  return MatrixBytes(WeightsPerLayer(c) * c.num_layers, rows_per_layer * c.num_layers, dtype) +
         MatrixBytes(double(c.hidden_size) * c.vocab_size, double(c.vocab_size),
                     LogitsWeightDType(dtype));
}

double KvEntryBytes(const LlmConfig& c, DType kv_dtype) {
  return static_cast<double>(KvCache::EntryBytes(c.kv_dim(), kv_dtype));
}

MachineCeilings MeasureCeilings(ThreadPool& pool, DType dtype, int repeats) {
  constexpr int64_t m = 1024, k = 4096, n = 4096;
  MachineCeilings ceilings;
  Tensor x(DType::kF32, {m, k}), y(DType::kF32, {m, n});
  // Through the engine's own Linear, so the ceiling is the one its layers can reach.
  const Linear linear = LinearFromF32(Tensor(DType::kF32, {n, k}), dtype);
  const auto gemm = [&] { linear.Forward(pool, x.f32(), m, y.f32()); };
  gemm();  // warm-up: first-touch pages, primitive creation
  ceilings.gemm_gflops = 2.0 * m * k * n / BestSeconds(repeats, gemm) / 1e9;

  constexpr size_t kBytes = size_t{1} << 30;
  std::vector<char> from(kBytes, 1), to(kBytes, 0);
  const auto copy = [&] { std::memcpy(to.data(), from.data(), kBytes); };
  copy();
  ceilings.copy_gbytes_s = 2.0 * kBytes / BestSeconds(repeats, copy) / 1e9;
  return ceilings;
}

}  // namespace lightvlm
