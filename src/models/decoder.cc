#include "models/decoder.h"

#include <cmath>
#include <cstring>

#include "base/error.h"
#include "base/progress.h"
#include "models/cache_attention_hook.h"
#include "models/prefill_hook.h"
#include "ops/ops.h"

namespace lightvlm {

// One sequence's share of a layer's pass: its rows of the pass's tokens and its layer cache.
struct LayerSequence {
  int64_t first_row = 0;
  int64_t rows = 0;
  LayerKvCache* cache = nullptr;
  LayerAttention* record = nullptr;  // keeps its attention over this pass's rows, when set
  std::vector<int64_t> cache_rows;   // rows (of the sequence) whose attention over the cache...
  Tensor cache_scores;               // ...lands here: [cache_rows, num_heads, cache entries]
};

namespace {

DecoderLayer LoadLayer(const LlmConfig& c, const TensorSource& weights, const std::string& prefix,
                       DType dtype) {
  DecoderLayer layer;
  layer.input_norm = weights.LoadF32(prefix + "input_layernorm.weight", {c.hidden_size});
  layer.q_proj =
      LoadLinear(weights, prefix + "self_attn.q_proj", c.q_dim(), c.hidden_size, c.qkv_bias, dtype);
  layer.k_proj = LoadLinear(weights, prefix + "self_attn.k_proj", c.kv_dim(), c.hidden_size,
                            c.qkv_bias, dtype);
  layer.v_proj = LoadLinear(weights, prefix + "self_attn.v_proj", c.kv_dim(), c.hidden_size,
                            c.qkv_bias, dtype);
  layer.o_proj =
      LoadLinear(weights, prefix + "self_attn.o_proj", c.hidden_size, c.q_dim(), c.o_bias, dtype);
  layer.post_attention_norm =
      weights.LoadF32(prefix + "post_attention_layernorm.weight", {c.hidden_size});
  layer.gate_proj = LoadLinear(weights, prefix + "mlp.gate_proj", c.intermediate_size,
                               c.hidden_size, c.mlp_bias, dtype);
  layer.up_proj = LoadLinear(weights, prefix + "mlp.up_proj", c.intermediate_size, c.hidden_size,
                             c.mlp_bias, dtype);
  layer.down_proj = LoadLinear(weights, prefix + "mlp.down_proj", c.hidden_size,
                               c.intermediate_size, c.mlp_bias, dtype);
  return layer;
}

// Rows [first_row, first_row + rows) of scores [*, heads, n_kv], and of each of them the last
// `columns` entries: with columns = n_kv the whole cache, with the pass's token count the
// attention paid to the tokens of this forward pass, leaving out earlier turns in the cache.
Tensor SliceScores(const Tensor& scores, int64_t first_row, int64_t rows, int64_t columns) {
  const int64_t heads = scores.dim(1), n_kv = scores.dim(2);
  Tensor slice(DType::kF32, {rows, heads, columns});
  for (int64_t g = 0; g < rows * heads; ++g) {
    std::memcpy(slice.f32() + g * columns,
                scores.f32() + (first_row * heads + g) * n_kv + (n_kv - columns),
                columns * sizeof(float));
  }
  return slice;
}

}  // namespace

Decoder::Decoder(const LlmConfig& config, const TensorSource& weights,
                 const DecoderTensorNames& names, DType weight_dtype)
    : config_(config) {
  const LlmConfig& c = config_;
  // Every size from the config is checked against the tensors' shapes in the file's headers
  // (safetensors or GGUF; each Load checks before it allocates) before anything is sized by the
  // config alone, such as the RoPE table below: a head_dim of 2e9 used to build a 3.9 GB table
  // before a shape error.
  embed_tokens_ =
      weights.LoadF32(names.prefix + "embed_tokens.weight", {c.vocab_size, c.hidden_size});
  Progress progress("loading layers", c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    layers_.push_back(LoadLayer(c, weights, StrCat(names.prefix, "layers.", i, "."), weight_dtype));
    progress.Advance();
  }
  final_norm_ = weights.LoadF32(names.prefix + "norm.weight", {c.hidden_size});
  // Tied checkpoints usually omit lm_head; when one is present anyway, it is the one to use.
  const DType logits_dtype = LogitsWeightDType(weight_dtype);
  if (!c.tie_word_embeddings || weights.Contains(names.lm_head)) {
    lm_head_ = LoadLinearWeight(weights, names.lm_head, c.vocab_size, c.hidden_size, logits_dtype);
  } else if (logits_dtype != DType::kF32) {
    lm_head_ = LoadLinearWeight(weights, names.prefix + "embed_tokens.weight", c.vocab_size,
                                c.hidden_size, logits_dtype);
  }
  inv_freq_ = RopeInverseFrequencies(c);
  for (size_t axis = 0; axis < c.rope_scaling.mrope_section.size(); ++axis) {
    mrope_axis_.insert(mrope_axis_.end(), c.rope_scaling.mrope_section[axis],
                       static_cast<int32_t>(axis));
  }
}

KvCache Decoder::NewCache(int64_t capacity, DType kv_dtype) const {
  return KvCache(config_.num_layers, config_.kv_dim(), capacity, kv_dtype);
}

void Decoder::Embed(std::span<const int32_t> ids, float* out) const {
  const int64_t width = config_.hidden_size;
  for (size_t i = 0; i < ids.size(); ++i) {
    Check(ids[i] >= 0 && ids[i] < config_.vocab_size, "token id ", ids[i],
          " is outside the vocabulary of ", config_.vocab_size, " (config.json: vocab_size)");
    std::memcpy(out + i * width, embed_tokens_.f32() + ids[i] * width, width * sizeof(float));
  }
}

void DecoderTokens::Keep(const std::vector<int64_t>& rows) {
  const int64_t width = hidden.dim(1);
  Tensor kept(DType::kF32, {static_cast<int64_t>(rows.size()), width});
  for (size_t i = 0; i < rows.size(); ++i) {
    Check(rows[i] >= 0 && rows[i] < size() && (i == 0 || rows[i] > rows[i - 1]),
          "tokens to keep must be ascending rows below ", size());
    std::memcpy(kept.f32() + i * width, hidden.f32() + rows[i] * width, width * sizeof(float));
    token_index[i] = token_index[rows[i]];
    position[i] = position[rows[i]];
  }
  hidden = std::move(kept);
  token_index.resize(rows.size());
  position.resize(rows.size());
}

void Decoder::Forward(ThreadPool& pool, DecoderTokens& tokens, KvCache& cache, PrefillHook* hook,
                      CacheAttentionHook* cache_hook) const {
  Check(tokens.hidden.dim(0) == tokens.size() &&
            static_cast<int64_t>(tokens.position.size()) == tokens.size(),
        "decoder input: hidden, token_index and position disagree on the token count");
  LayerAttention recorded;
  if (hook != nullptr) {
    std::vector<int64_t> probe_rows = hook->ProbeRows(tokens);
    if (!probe_rows.empty()) recorded = ProbeAttention(pool, tokens, std::move(probe_rows));
  }
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    if (hook != nullptr) {
      const bool has_record = !recorded.query_rows.empty() && recorded.layer == i - 1;
      hook->BeforeLayer(i, tokens, has_record ? &recorded : nullptr);
      recorded.query_rows = hook->ScoreRows(i, tokens);
    }
    const bool record = !recorded.query_rows.empty();
    recorded.layer = record ? i : -1;
    LayerSequence sequence;
    sequence.rows = tokens.size();
    sequence.cache = &cache.layer(i);
    sequence.record = record ? &recorded : nullptr;
    if (cache_hook != nullptr) sequence.cache_rows = cache_hook->CacheScoreRows(i, tokens);
    ForwardLayer(pool, layers_[i], tokens, std::span(&sequence, 1));
    if (!sequence.cache_rows.empty()) {
      cache_hook->AfterLayer(i, cache.layer(i), sequence.cache_scores);
    }
  }
  ops::RmsNorm(pool, tokens.hidden.f32(), final_norm_.f32(), tokens.size(), config_.hidden_size,
               static_cast<float>(config_.rms_norm_eps), tokens.hidden.f32());
}

void Decoder::ForwardBatch(ThreadPool& pool, DecoderTokens& tokens,
                           std::span<KvCache* const> caches,
                           std::span<CacheAttentionHook* const> hooks) const {
  const int64_t batch = tokens.size();
  Check(static_cast<int64_t>(caches.size()) == batch && static_cast<int64_t>(hooks.size()) == batch,
        "decoder batch: ", batch, " tokens for ", caches.size(), " caches and ", hooks.size(),
        " hooks");
  Check(tokens.hidden.dim(0) == batch && static_cast<int64_t>(tokens.position.size()) == batch,
        "decoder input: hidden, token_index and position disagree on the token count");
  std::vector<DecoderTokens> rows(batch);  // what each hook sees of its sequence
  for (int64_t b = 0; b < batch; ++b) {
    rows[b].token_index = {tokens.token_index[b]};
    rows[b].position = {tokens.position[b]};
  }
  for (int64_t i = 0; i < config_.num_layers; ++i) {
    std::vector<LayerSequence> sequences(batch);
    for (int64_t b = 0; b < batch; ++b) {
      sequences[b].first_row = b;
      sequences[b].rows = 1;
      sequences[b].cache = &caches[b]->layer(i);
      if (hooks[b] != nullptr) sequences[b].cache_rows = hooks[b]->CacheScoreRows(i, rows[b]);
    }
    ForwardLayer(pool, layers_[i], tokens, sequences);
    for (int64_t b = 0; b < batch; ++b) {
      if (!sequences[b].cache_rows.empty()) {
        hooks[b]->AfterLayer(i, caches[b]->layer(i), sequences[b].cache_scores);
      }
    }
  }
  ops::RmsNorm(pool, tokens.hidden.f32(), final_norm_.f32(), batch, config_.hidden_size,
               static_cast<float>(config_.rms_norm_eps), tokens.hidden.f32());
}

LayerAttention Decoder::ProbeAttention(ThreadPool& pool, const DecoderTokens& tokens,
                                       std::vector<int64_t> rows) const {
  const LlmConfig& c = config_;
  const DecoderLayer& layer = layers_.front();
  const int64_t n = tokens.size(), r = static_cast<int64_t>(rows.size());
  Tensor normed(DType::kF32, {n, c.hidden_size});
  ops::RmsNorm(pool, tokens.hidden.f32(), layer.input_norm.f32(), n, c.hidden_size,
               static_cast<float>(c.rms_norm_eps), normed.f32());
  Tensor k(DType::kF32, {n, c.kv_dim()});
  layer.k_proj.Forward(pool, normed.f32(), n, k.f32());
  LayerAttention probe;
  probe.layer = -1;  // before layer 0
  probe.keys = k.Copy();
  Rotate(pool, k.f32(), n, c.num_kv_heads, tokens.position);

  Tensor picked(DType::kF32, {r, c.hidden_size});
  std::vector<int64_t> query_index(r);
  std::vector<PositionId> query_position(r);
  for (int64_t i = 0; i < r; ++i) {
    Check(rows[i] >= 0 && rows[i] < n, "probe row ", rows[i], " is outside the ", n, " tokens");
    std::memcpy(picked.f32() + i * c.hidden_size, normed.f32() + rows[i] * c.hidden_size,
                c.hidden_size * sizeof(float));
    query_index[i] = tokens.token_index[rows[i]];
    query_position[i] = tokens.position[rows[i]];
  }
  Tensor q(DType::kF32, {r, c.q_dim()});
  layer.q_proj.Forward(pool, picked.f32(), r, q.f32());
  Rotate(pool, q.f32(), r, c.num_heads, query_position);
  // Only the probabilities are wanted; the keys stand in for the values.
  Tensor unused(DType::kF32, {r, c.q_dim()});
  probe.probabilities = Tensor(DType::kF32, {r, c.num_heads, n});
  std::vector<int64_t> all_rows(r);
  for (int64_t i = 0; i < r; ++i) all_rows[i] = i;
  const ops::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim,
                                  1.0f / std::sqrt(static_cast<float>(c.head_dim))};
  ops::Attention(pool, q.f32(), query_index.data(), r, k.f32(), k.f32(), tokens.token_index.data(),
                 n, shape, /*causal=*/true, unused.f32(), all_rows, probe.probabilities.f32());
  probe.query_rows = std::move(rows);
  return probe;
}

void Decoder::Rotate(ThreadPool& pool, float* x, int64_t rows, int64_t heads,
                     std::span<const PositionId> positions) const {
  if (!mrope_axis_.empty()) {
    std::vector<int64_t> ids(3 * rows);
    for (int64_t i = 0; i < rows; ++i) {
      ids[3 * i] = positions[i].temporal;
      ids[3 * i + 1] = positions[i].height;
      ids[3 * i + 2] = positions[i].width;
    }
    return ops::ApplyMultiAxisRope(pool, x, rows, heads, config_.head_dim, ids.data(), 3,
                                   mrope_axis_, inv_freq_);
  }
  // A decoder without M-RoPE refuses three different ids rather than rotate by one of them.
  std::vector<int64_t> ids(rows);
  for (int64_t i = 0; i < rows; ++i) {
    Check(positions[i].is_sequential(), "token ", i, " has M-RoPE positions (",
          positions[i].temporal, ", ", positions[i].height, ", ", positions[i].width, ") but the ",
          config_.model_type, " decoder rotates by one id (config.json has no mrope_section)");
    ids[i] = positions[i].temporal;
  }
  ops::ApplyRope(pool, x, rows, heads, config_.head_dim, ids.data(), inv_freq_);
}

void Decoder::AttendSequence(ThreadPool& pool, const DecoderTokens& tokens, const Tensor& q,
                             const Tensor& k, const Tensor& v, LayerSequence& sequence,
                             Tensor& attention) const {
  const LlmConfig& c = config_;
  const int64_t first = sequence.first_row, n = sequence.rows;
  LayerKvCache& cache = *sequence.cache;
  cache.Append(k.f32() + first * c.kv_dim(), v.f32() + first * c.kv_dim(),
               tokens.token_index.data() + first, n);
  const ops::AttentionShape shape{c.num_heads, c.num_kv_heads, c.head_dim,
                                  1.0f / std::sqrt(static_cast<float>(c.head_dim))};
  const int64_t n_kv = cache.size();
  // One attention call scores both: the record's rows first, then the cache hook's.
  std::vector<int64_t> score_rows;
  if (sequence.record != nullptr) score_rows = sequence.record->query_rows;
  const auto record_rows = static_cast<int64_t>(score_rows.size());
  score_rows.insert(score_rows.end(), sequence.cache_rows.begin(), sequence.cache_rows.end());
  Tensor scores;
  if (!score_rows.empty()) {
    scores = Tensor(DType::kF32, {static_cast<int64_t>(score_rows.size()), c.num_heads, n_kv});
  }
  // A pass over an empty cache attends to its own float32 keys and values, the same entries
  // before the cache rounds them: a first prompt's logits do not depend on the cache's dtype.
  const bool fresh = n_kv == n;
  const ops::KeyValues kv =
      fresh ? ops::KeyValues{k.f32() + first * c.kv_dim(), v.f32() + first * c.kv_dim()}
            : cache.entries();
  ops::Attention(pool, q.f32() + first * c.q_dim(), tokens.token_index.data() + first, n, kv,
                 fresh ? tokens.token_index.data() + first : cache.token_index(), n_kv, shape,
                 /*causal=*/true, attention.f32() + first * c.q_dim(), score_rows,
                 score_rows.empty() ? nullptr : scores.f32());
  if (sequence.record != nullptr) {
    sequence.record->probabilities = SliceScores(scores, 0, record_rows, n);
  }
  if (!sequence.cache_rows.empty()) {
    sequence.cache_scores =
        record_rows == 0 ? std::move(scores)
                         : SliceScores(scores, record_rows,
                                       static_cast<int64_t>(sequence.cache_rows.size()), n_kv);
  }
}

void Decoder::ForwardLayer(ThreadPool& pool, const DecoderLayer& layer, DecoderTokens& tokens,
                           std::span<LayerSequence> sequences) const {
  const LlmConfig& c = config_;
  const int64_t n = tokens.size();
  const auto eps = static_cast<float>(c.rms_norm_eps);
  float* x = tokens.hidden.f32();

  Tensor normed(DType::kF32, {n, c.hidden_size});
  ops::RmsNorm(pool, x, layer.input_norm.f32(), n, c.hidden_size, eps, normed.f32());
  Tensor q(DType::kF32, {n, c.q_dim()});
  Tensor k(DType::kF32, {n, c.kv_dim()});
  Tensor v(DType::kF32, {n, c.kv_dim()});
  layer.q_proj.Forward(pool, normed.f32(), n, q.f32());
  layer.k_proj.Forward(pool, normed.f32(), n, k.f32());
  layer.v_proj.Forward(pool, normed.f32(), n, v.f32());
  for (LayerSequence& sequence : sequences) {
    if (sequence.record == nullptr) continue;
    sequence.record->keys = Tensor(DType::kF32, {sequence.rows, c.kv_dim()});
    std::memcpy(sequence.record->keys.f32(), k.f32() + sequence.first_row * c.kv_dim(),
                sequence.record->keys.num_bytes());
  }
  Rotate(pool, q.f32(), n, c.num_heads, tokens.position);
  Rotate(pool, k.f32(), n, c.num_kv_heads, tokens.position);
  Tensor attention(DType::kF32, {n, c.q_dim()});
  for (LayerSequence& sequence : sequences)
    AttendSequence(pool, tokens, q, k, v, sequence, attention);
  Tensor attended(DType::kF32, {n, c.hidden_size});
  layer.o_proj.Forward(pool, attention.f32(), n, attended.f32());
  ops::AddRmsNorm(pool, x, attended.f32(), layer.post_attention_norm.f32(), n, c.hidden_size, eps,
                  normed.f32());
  Tensor gate(DType::kF32, {n, c.intermediate_size});
  Tensor up(DType::kF32, {n, c.intermediate_size});
  layer.gate_proj.Forward(pool, normed.f32(), n, gate.f32());
  layer.up_proj.Forward(pool, normed.f32(), n, up.f32());
  ops::SiluMul(pool, gate.f32(), up.f32(), n * c.intermediate_size);
  layer.down_proj.Forward(pool, gate.f32(), n, normed.f32());
  ops::Add(pool, x, normed.f32(), n * c.hidden_size);
}

void Decoder::Logits(ThreadPool& pool, const float* hidden, int64_t rows, float* logits) const {
  if (lm_head_.weight.num_elements()) return lm_head_.Forward(pool, hidden, rows, logits);
  ops::Linear(pool, hidden, rows, config_.hidden_size, embed_tokens_.f32(), config_.vocab_size,
              nullptr, logits);
}

}  // namespace lightvlm
