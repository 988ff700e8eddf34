// llama.cpp's converter (convert_hf_to_gguf.py) reorders the rows of a Llama-family model's
// attn_q and attn_k weights, because ggml's RoPE rotates adjacent pairs of dimensions (0,1),
// (2,3), ... where Hugging Face's rotates the two halves of each head (i, i + head_dim/2): within
// each head, HF row s * head_dim/2 + i is stored as row 2 * i + s. This undoes that reordering.
// Only the "llama" architecture is reordered; the converter stores qwen2's rows unchanged.
#pragma once

#include <cstdint>

#include "base/tensor.h"

namespace lightvlm {

// `weight` is float32 [rows, ...] (a weight or a bias) as stored in the GGUF file, rows =
// n_heads * head_dim; pass n_heads = head_count for attn_q and head_count_kv for attn_k. Returns
// the rows in Hugging Face order. Fails unless rows is a multiple of 2 * n_heads.
Tensor UndoLlamaRopeRowOrder(const TensorView& weight, int64_t n_heads);

}  // namespace lightvlm
