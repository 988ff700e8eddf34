// The LLM decoder of Llama and Qwen2 (and of every VLM family's text half), built from
// config.json alone: pre-norm blocks of grouped-query attention with RoPE and a SiLU-gated MLP.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/tensor_source.h"
#include "models/kv_cache.h"
#include "models/linear.h"
#include "models/llm_config.h"
#include "models/position_id.h"

namespace lightvlm {

// Where the decoder's tensors live in a checkpoint: a text model saves them under "model." and
// "lm_head.weight"; VLM checkpoints nest them (e.g. "language_model.model.").
struct DecoderTensorNames {
  std::string prefix = "model.";
  std::string lm_head = "lm_head.weight";
};

// The live tokens of one sequence in one forward pass. Reduction may leave gaps in token_index;
// positions stay those of the original prompt.
class PrefillHook;
class CacheAttentionHook;
struct LayerAttention;
struct LayerSequence;

struct DecoderTokens {
  Tensor hidden;                     // [n, hidden_size]
  std::vector<int64_t> token_index;  // [n] index in the sequence, for causality and the cache
  std::vector<PositionId> position;  // [n] rotary position

  int64_t size() const { return static_cast<int64_t>(token_index.size()); }
  // Keeps the tokens at `rows` (strictly ascending), in order.
  void Keep(const std::vector<int64_t>& rows);
};

struct DecoderLayer {
  Tensor input_norm;           // [hidden_size]
  Linear q_proj;               // [num_heads * head_dim, hidden_size]
  Linear k_proj;               // [num_kv_heads * head_dim, hidden_size]
  Linear v_proj;               // [num_kv_heads * head_dim, hidden_size]
  Linear o_proj;               // [hidden_size, num_heads * head_dim]
  Tensor post_attention_norm;  // [hidden_size]
  Linear gate_proj;            // [intermediate_size, hidden_size]
  Linear up_proj;              // [intermediate_size, hidden_size]
  Linear down_proj;            // [hidden_size, intermediate_size]
};

class Decoder {
 public:
  // Loads and shape-checks every tensor the config implies; errors name the tensor. Matrices are
  // held in `weight_dtype` (F32, BF16, I8 or Q4; lm_head in LogitsWeightDType); embeddings and
  // norms in float32.
  Decoder(const LlmConfig& config, const TensorSource& weights,
          const DecoderTensorNames& names = {}, DType weight_dtype = DType::kF32);

  const LlmConfig& config() const { return config_; }
  KvCache NewCache(int64_t capacity, DType kv_dtype = kDefaultKvDType) const;

  // Embeddings of `ids` into out [ids.size(), hidden_size]; fails on ids outside the vocabulary.
  void Embed(std::span<const int32_t> ids, float* out) const;

  // Runs every layer over `tokens`, appending each layer's keys and values to `cache`. On return
  // tokens.hidden holds the final-normed hidden states. A `hook` is called before every layer and
  // may shrink the tokens (see prefill_hook.h); a `cache_hook` sees, after every layer, the
  // attention the layer's cache entries received from the rows it asks for
  // (cache_attention_hook.h).
  void Forward(ThreadPool& pool, DecoderTokens& tokens, KvCache& cache, PrefillHook* hook = nullptr,
               CacheAttentionHook* cache_hook = nullptr) const;

  // One decode step of several sequences together: row b of `tokens` is the next token of
  // sequence b, whose cache is caches[b] and whose cache hook is hooks[b] (null for none). The
  // weight products run on all rows at once, so the step reads the weights once for the whole
  // batch; attention stays per sequence, over that sequence's own (ragged) cache. A hook sees its
  // sequence's row only (token_index and position; hidden is left empty). On return
  // tokens.hidden holds the final-normed hidden states.
  void ForwardBatch(ThreadPool& pool, DecoderTokens& tokens, std::span<KvCache* const> caches,
                    std::span<CacheAttentionHook* const> hooks) const;

  // logits [rows, vocab_size] of final-normed hidden states [rows, hidden_size].
  void Logits(ThreadPool& pool, const float* hidden, int64_t rows, float* logits) const;

 private:
  // Layer 0's attention for `rows` of `tokens` without running the layer (see PrefillHook).
  LayerAttention ProbeAttention(ThreadPool& pool, const DecoderTokens& tokens,
                                std::vector<int64_t> rows) const;
  // Runs one layer over `tokens`, whose rows belong to `sequences` (each with its own cache);
  // the weight products run on every row at once, attention per sequence.
  void ForwardLayer(ThreadPool& pool, const DecoderLayer& layer, DecoderTokens& tokens,
                    std::span<LayerSequence> sequences) const;
  // Rotates `rows` rows of `heads` heads in `x` by their positions (RoPE, or M-RoPE's three ids).
  void Rotate(ThreadPool& pool, float* x, int64_t rows, int64_t heads,
              std::span<const PositionId> positions) const;
  // One sequence's attention in a layer: appends its keys and values to its cache and writes its
  // rows of `attention` [rows, q_dim] from its rows of q, k, v (after RoPE).
  void AttendSequence(ThreadPool& pool, const DecoderTokens& tokens, const Tensor& q,
                      const Tensor& k, const Tensor& v, LayerSequence& sequence,
                      Tensor& attention) const;

  LlmConfig config_;
  Tensor embed_tokens_;  // [vocab_size, hidden_size]
  std::vector<DecoderLayer> layers_;
  Tensor final_norm_;  // [hidden_size]
  Linear lm_head_;     // [vocab_size, hidden_size]; empty when tied to embed_tokens in float32
  std::vector<float> inv_freq_;  // [head_dim / 2]
  // M-RoPE: the position axis (temporal, height, width) of each frequency; empty for RoPE.
  std::vector<int32_t> mrope_axis_;
};

}  // namespace lightvlm
