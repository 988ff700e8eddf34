// The decoder's one extension point: something (a token reducer, see src/reduce/) that looks at
// the live tokens between layers during prefill and may remove or merge them. The decoder knows
// nothing of the method; it records the attention the hook asks for and calls it before layers.
#pragma once

#include <cstdint>
#include <vector>

#include "base/tensor.h"
#include "models/decoder.h"

namespace lightvlm {

// Attention recorded at one layer for a few query rows, computed beside the normal attention
// (O(rows * n * head_dim), never an n x n matrix).
struct LayerAttention {
  int64_t layer = -1;
  std::vector<int64_t> query_rows;  // rows of the layer's live tokens that were queried
  Tensor probabilities;             // [query_rows, num_heads, n] over the layer's live tokens
  Tensor keys;                      // [n, num_kv_heads * head_dim] keys before RoPE
};

class PrefillHook {
 public:
  virtual ~PrefillHook() = default;

  // Rows of `tokens` whose attention at layer 0 the hook wants before layer 0 runs: a probe
  // computes those rows' queries against every token's key at layer 0 without running the layer,
  // so that a stage can reduce before layer 0. Empty for none.
  virtual std::vector<int64_t> ProbeRows(const DecoderTokens& /*tokens*/) { return {}; }

  // Rows of `tokens` whose attention at `layer` the hook wants recorded; empty for none.
  virtual std::vector<int64_t> ScoreRows(int64_t layer, const DecoderTokens& tokens) = 0;

  // Called before `layer` runs (layer 0 included) with the attention recorded at the previous
  // layer, or before layer 0 the probe's, if it was asked for (else null). May shrink `tokens`;
  // layers from here on see only what is left, earlier layers' caches keep everything they saw.
  virtual void BeforeLayer(int64_t layer, DecoderTokens& tokens,
                           const LayerAttention* previous) = 0;
};

}  // namespace lightvlm
