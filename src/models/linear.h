// A Hugging Face nn.Linear: weight [out, in] and an optional bias [out], with the weight held in
// float32, bfloat16, int8 (quantised at load time, one scale per output channel) or 4 bits
// (quantised at load time, a bf16 scale and min per group of 32 input columns: ops::QuantizeQ4).
#pragma once

#include <cstdint>
#include <string>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/tensor_source.h"

namespace lightvlm {

struct Linear {
  Tensor weight;  // [out_features, in_features], F32, BF16, I8 or Q4
  // [out_features, in_features / group] float32 for I8 weights, [out_features,
  // ops::Q4Groups(in_features), 2] BF16 (scale, min) pairs for Q4 ones, else empty
  Tensor scales;
  Tensor bias;  // [out_features], or empty

  int64_t out_features() const { return weight.dim(0); }
  int64_t in_features() const { return weight.dim(1); }
  // y[rows, out] = x[rows, in] * weight^T + bias
  void Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const;
  // Bytes a product reads from the weight (scales included).
  size_t weight_bytes() const { return weight.num_bytes() + scales.num_bytes(); }
};

// Loads `<prefix>.weight` (and `<prefix>.bias` when has_bias), checking their shapes; the
// weight is held in `weight_dtype` (F32, BF16, I8 or Q4), the bias in float32.
Linear LoadLinear(const TensorSource& weights, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias, DType weight_dtype = DType::kF32);
// The matrix `name` [out_features, in_features] as a Linear without bias, in `weight_dtype`.
Linear LoadLinearWeight(const TensorSource& weights, const std::string& name, int64_t out_features,
                        int64_t in_features, DType weight_dtype);
// A float32 matrix [out, in] as I8 with one scale per output channel (symmetric, max |w| / 127).
Linear QuantizeLinearInt8(const Tensor& weight);
// A float32 matrix [out, in] as Q4 (ops::QuantizeQ4).
Linear QuantizeLinearQ4(const Tensor& weight);
// A float32 matrix [out, in] (e.g. one part of a fused tensor) as a Linear without bias, held in
// `weight_dtype`.
Linear LinearFromF32(Tensor weight, DType weight_dtype);

// The dtype of the matrix that makes the logits (lm_head) when the layers' matrices are held in
// `weight_dtype`: I8 for Q4, else the same. 4 bits there alone moved stories260k's logits by 4.4%
// of their norm (llama.cpp's 4-bit formats keep that matrix at 6 bits too).
DType LogitsWeightDType(DType weight_dtype);

// Fails unless `dtype` is one a Linear can compute with.
void CheckWeightDType(DType dtype);
// "f32", "bf16", "int8" or "q4" (as users write them) to the dtype; fails naming the accepted
// values.
DType ParseWeightDType(const std::string& name);

}  // namespace lightvlm
