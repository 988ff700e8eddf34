// Row-wise softmax, shifted by the row maximum so that exp never overflows.
#include "ops/cpu/vector_ops.h"
#include "ops/ops.h"

namespace lightvlm::ops {

void Softmax(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    const float sum = ExpShiftedSum(row, Max(row, cols), cols);
    Scale(row, 1.0f / sum, cols);
  }
}

}  // namespace lightvlm::ops
