// A Hugging Face nn.Linear: weight [out, in] and an optional bias [out], held as float32.
#pragma once

#include <cstdint>
#include <string>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/safetensors.h"

namespace lightvlm {

struct Linear {
  Tensor weight;  // [out_features, in_features], F32 or BF16
  Tensor bias;    // [out_features], or empty

  int64_t out_features() const { return weight.dim(0); }
  int64_t in_features() const { return weight.dim(1); }
  // y[rows, out] = x[rows, in] * weight^T + bias
  void Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
};

// Loads `<prefix>.weight` (and `<prefix>.bias` when has_bias), checking their shapes; the
// weight is held in `weight_dtype` (F32 or BF16), the bias in float32.
Linear LoadLinear(const Checkpoint& checkpoint, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias, DType weight_dtype = DType::kF32);

// Fails unless `dtype` is one a Linear can compute with.
void CheckWeightDType(DType dtype);
// "f32" or "bf16" (as users write it) to the dtype; fails naming the accepted values.
DType ParseWeightDType(const std::string& name);

}  // namespace lightvlm
