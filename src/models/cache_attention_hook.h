// The decoder's second extension point: something (a KV cache policy, see src/reduce/) that
// watches the attention each layer's live cache entries receive, in prefill and in decode. The
// decoder computes the probabilities a hook asks for beside the fused attention (O(rows * n *
// head_dim) per layer, never an n x n matrix) and hands them over after each layer; what to keep
// is the hook's business, done between forward passes through LayerKvCache::Keep.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "models/decoder.h"
#include "models/kv_cache.h"

namespace lightvlm {

class CacheAttentionHook {
 public:
  virtual ~CacheAttentionHook() = default;

  // Rows of `tokens` (this pass's live tokens at `layer`) whose attention over every entry of
  // the layer's cache the hook wants; empty for none (then nothing extra is computed).
  virtual std::vector<int64_t> CacheScoreRows(int64_t layer, const DecoderTokens& tokens) = 0;

  // Called after `layer` ran when rows were asked for: `probabilities` [rows, num_heads,
  // cache.size()] over the layer's live entries, this pass's own entries included (masked ones 0).
  virtual void AfterLayer(int64_t layer, const LayerKvCache& cache,
                          const Tensor& probabilities) = 0;
};

}  // namespace lightvlm
