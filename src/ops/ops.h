// The kernels every model is built from. Activations are float32, dense, row-major.
// Implemented for the CPU in ops/cpu/; model code calls these plain functions and never
// sees SIMD targets or BLAS.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/dtype.h"
#include "base/thread_pool.h"

namespace lightvlm::ops {

// y[m, n] = x[m, k] * w[n, k]^T + bias[n]: the layout of a Hugging Face nn.Linear weight
// ([out_features, in_features]). bias may be null. y must not alias x.
void Linear(ThreadPool& pool, const float* x, int64_t m, int64_t k, const float* w, int64_t n,
            const float* bias, float* y);

// The same product with bfloat16 weights w [n, k] (the bits of each value); x is rounded to
// bf16 for the product, accumulation and y stay float32.
void LinearBf16(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint16_t* w,
                int64_t n, const float* bias, float* y);

// The same product with int8 weights w [n, k] and float32 scales [n, k / group]: weight (i, c)
// stands for w[i, c] * scales[i, c / group] (group = k: one scale per output channel). x and
// the arithmetic stay float32; only the weights' storage is 8-bit.
void LinearInt8(ThreadPool& pool, const float* x, int64_t m, int64_t k, const int8_t* w,
                const float* scales, int64_t group, int64_t n, const float* bias, float* y);

// Symmetric int8 quantisation of w [n, k] for LinearInt8: for each row and each group of
// `group` columns, scale = max |w| / 127 and q = round(w / scale), ties away from zero (lround's
// rule). q: [n, k], scales: [n, k / group]. Fails unless group divides k.
void QuantizeInt8(const float* w, int64_t n, int64_t k, int64_t group, int8_t* q, float* scales);

// 4-bit weights: each row of w [n, k] (k even) in groups of kQ4Group columns (the last group of a
// row shorter when kQ4Group does not divide k), each group with a bf16 scale and a bf16 min:
// weight (i, c) = scale * q + min with q in 0..15 (asymmetric, so a group's codes span its own
// range). A row takes k / 2
// bytes; in a group of `length` columns from column g, byte b holds column g + b in its low nibble
// and column g + length / 2 + b in its high one (so a vector of bytes unpacks into two runs of
// neighbouring columns, on any SIMD width).
inline constexpr int64_t kQ4Group = 32;
inline int64_t Q4Groups(int64_t k) { return (k + kQ4Group - 1) / kQ4Group; }

// The same product with 4-bit weights w [n, k / 2 bytes] and bf16 (scale, min) pairs
// [n, Q4Groups(k), 2]. Decode steps (a few rows of x) unpack the weights in registers, with x
// rounded to two int8 planes per group of kQ4Group where the CPU has AVX512-VNNI and to int16 per
// row elsewhere; more rows dequantise tiles of the weights to bf16 for LinearBf16's matrix product
// (x rounded to bf16 as there).
void LinearQ4(ThreadPool& pool, const float* x, int64_t m, int64_t k, const uint8_t* w,
              const uint16_t* scales, int64_t n, const float* bias, float* y);

// Quantises w [n, k] for LinearQ4: each group's min is its smallest value and its scale its range
// / 15 (both rounded to bf16 first), q = round((w - min) / scale), ties away from zero;
// quantize.cc says why this rule. Fails unless k is even.
void QuantizeQ4(const float* w, int64_t n, int64_t k, uint8_t* q, uint16_t* scales);

// y = x / sqrt(mean(x^2) + eps) * weight, per row of `dim`. y may alias x.
void RmsNorm(ThreadPool& pool, const float* x, const float* weight, int64_t rows, int64_t dim,
             float eps, float* y);

// x += delta, then y = RmsNorm(x): the residual connection and the next norm in one pass over
// each row, with the same results as Add followed by RmsNorm. y must not alias x or delta.
void AddRmsNorm(ThreadPool& pool, float* x, const float* delta, const float* weight, int64_t rows,
                int64_t dim, float eps, float* y);

// y = (x - mean) / sqrt(var + eps) * weight + bias, per row. bias may be null; y may alias x.
void LayerNorm(ThreadPool& pool, const float* x, const float* weight, const float* bias,
               int64_t rows, int64_t dim, float eps, float* y);

// Rotary position embedding, rotate-half layout (as transformers' Llama): in each head, element
// i < rotary_dim/2 pairs with i + rotary_dim/2, rotated by angle position * inv_freq[i].
// x: [rows, heads * head_dim], positions: [rows], inv_freq: [rotary_dim / 2]. Elements from
// rotary_dim to head_dim are left as they are. `attention_scaling` multiplies cos and sin
// (1 except for rope types that ask for it).
void ApplyRope(ThreadPool& pool, float* x, int64_t rows, int64_t heads, int64_t head_dim,
               const int64_t* positions, std::span<const float> inv_freq,
               float attention_scaling = 1.0f);

// Rotary embedding over several position axes (rotate-half layout, as ApplyRope): frequency i of
// row r turns by positions[r * axes + frequency_axis[i]] * inv_freq[i]. Qwen2-VL's M-RoPE gives
// each token (temporal, height, width) ids and its frequencies to the axes by mrope_section; its
// vision tower gives each patch (row, column). x: [rows, heads * head_dim]; frequency_axis and
// inv_freq: [rotary_dim / 2], each axis below `axes`.
void ApplyMultiAxisRope(ThreadPool& pool, float* x, int64_t rows, int64_t heads, int64_t head_dim,
                        const int64_t* positions, int64_t axes,
                        std::span<const int32_t> frequency_axis, std::span<const float> inv_freq);

// Elementwise activations, in place over n values.
void Silu(ThreadPool& pool, float* x, int64_t n);
void Gelu(ThreadPool& pool, float* x, int64_t n);  // exact, with erf
void GeluTanh(ThreadPool& pool, float* x,
              int64_t n);  // tanh form ("gelu_pytorch_tanh", "gelu_new")
void QuickGelu(ThreadPool& pool, float* x, int64_t n);  // x * sigmoid(1.702 x), as CLIP
// gate[i] = silu(gate[i]) * up[i]: the gated MLP of Llama and Qwen2.
void SiluMul(ThreadPool& pool, float* gate, const float* up, int64_t n);

// y[i] += x[i]: the residual connections.
void Add(ThreadPool& pool, float* y, const float* x, int64_t n);

// Numerically stable softmax over each row of `cols`, in place.
void Softmax(float* x, int64_t rows, int64_t cols);

struct AttentionShape {
  int64_t num_heads = 0;
  int64_t num_kv_heads =
      0;  // divides num_heads; query head h reads kv head h / (num_heads / num_kv_heads)
  int64_t head_dim = 0;
  float scale = 0;  // usually 1 / sqrt(head_dim)
};

// Attention of n_q queries over n_kv cached keys and values, with grouped KV heads.
// q: [n_q, num_heads * head_dim]; k, v: [n_kv, num_kv_heads * head_dim]; out: [n_q, num_heads *
// head_dim]. Causality comes from token indices, not from row order, because reduction leaves
// gaps: query i sees key j iff key_index[j] <= query_index[i] (and, if `causal` is false, every
// key). No n_q x n_kv buffer: a few rows stream the keys through a row of n_kv scores per thread,
// many rows go in tiles of at most max(2^20, 32 n_kv) scores per thread.
// query_index and key_index are read only when `causal`. A query that sees no key gets a zero
// output (PyTorch would give NaN).
//
// score_rows lists query rows (indices into [0, n_q)) whose attention probabilities the caller
// wants; for them `scores` receives [score_rows.size(), num_heads, n_kv] probabilities (0 for
// masked keys). scores may be null when score_rows is empty.
void Attention(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
               const float* k, const float* v, const int64_t* key_index, int64_t n_kv,
               const AttentionShape& shape, bool causal, float* out,
               std::span<const int64_t> score_rows = {}, float* scores = nullptr);

// Keys and values, [n_kv, num_kv_heads * head_dim] each, in float32 or bfloat16 (a KV cache's).
struct KeyValues {
  const void* keys = nullptr;
  const void* values = nullptr;
  DType dtype = DType::kF32;
};

// The same attention over keys and values of either dtype: bfloat16 ones are widened to float32
// as they load, and every sum stays float32.
void Attention(ThreadPool& pool, const float* q, const int64_t* query_index, int64_t n_q,
               const KeyValues& kv, const int64_t* key_index, int64_t n_kv,
               const AttentionShape& shape, bool causal, float* out,
               std::span<const int64_t> score_rows = {}, float* scores = nullptr);

}  // namespace lightvlm::ops
