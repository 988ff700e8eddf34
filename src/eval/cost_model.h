// Counting work before timing it: the floating-point operations of an LLM prefill in which each
// layer sees its own number of live tokens, and the ceilings the machine offers (a large GEMM
// through the engine's own kernels, a large copy).
#pragma once

#include <cstdint>
#include <vector>

#include "base/dtype.h"
#include "base/thread_pool.h"
#include "models/llm_config.h"

namespace lightvlm {

// FLOPs of one decoder layer over `tokens` live tokens in prefill (no earlier cache): the
// projections and MLP (2 * tokens * weights) and causal attention (every query sees the live
// tokens up to itself: tokens * (tokens + 1) / 2 query-key pairs, scores and weighted sums).
double LayerPrefillFlops(const LlmConfig& config, int64_t tokens);

// FLOPs of a prefill whose layer l sees live_tokens[l] tokens, plus the logits of the last row.
double PrefillFlops(const LlmConfig& config, const std::vector<int64_t>& live_tokens);

// Bytes of the decoder's weight matrices in `dtype` (what every decode step reads).
double DecoderWeightBytes(const LlmConfig& config, DType dtype);

// Bytes of one KV cache entry in one layer: key and value in `kv_dtype`, and the token index.
double KvEntryBytes(const LlmConfig& config, DType kv_dtype);

struct MachineCeilings {
  double gemm_gflops = 0;    // a 1024 x 4096 x 4096 product through ops::Linear in the dtype
  double copy_gbytes_s = 0;  // memcpy of 1 GiB, counting bytes read and written
};

// Measures the ceilings (a few seconds): best of `repeats`.
MachineCeilings MeasureCeilings(ThreadPool& pool, DType dtype, int repeats = 3);

}  // namespace lightvlm
