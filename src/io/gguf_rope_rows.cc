#include "io/gguf_rope_rows.h"

#include <cstring>

#include "base/error.h"

namespace lightvlm {

Tensor UndoLlamaRopeRowOrder(const TensorView& weight, int64_t n_heads) {
  Check(weight.rank() >= 1, "RoPE row order: a tensor with rows is needed, got a scalar");
  const int64_t rows = weight.dim(0);
  Check(n_heads > 0 && rows % (2 * n_heads) == 0, "RoPE row order: ", rows,
        " rows do not split into ", n_heads, " heads of an even size");
  const int64_t head_dim = rows / n_heads, half = head_dim / 2;
  const int64_t row_length = rows == 0 ? 0 : weight.num_elements() / rows;
  const float* in = weight.f32();
  Tensor out(DType::kF32, weight.shape());
  for (int64_t head = 0; head < n_heads; ++head) {
    for (int64_t i = 0; i < half; ++i) {
      for (int64_t s = 0; s < 2; ++s) {
        const int64_t stored = head * head_dim + 2 * i + s;
        const int64_t original = head * head_dim + s * half + i;
        std::memcpy(out.f32() + original * row_length, in + stored * row_length,
                    row_length * sizeof(float));
      }
    }
  }
  return out;
}

}  // namespace lightvlm
