// A Hugging Face nn.Linear: weight [out, in] and an optional bias [out], held as float32.
#pragma once

#include <cstdint>
#include <string>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/safetensors.h"

namespace lightvlm {

struct Linear {
  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features], or empty

  int64_t out_features() const { return weight.dim(0); }
  int64_t in_features() const { return weight.dim(1); }
  // y[rows, out] = x[rows, in] * weight^T + bias
  void Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
};

// Loads `<prefix>.weight` (and `<prefix>.bias` when has_bias), checking their shapes.
Linear LoadLinear(const Checkpoint& checkpoint, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias);

}  // namespace lightvlm
