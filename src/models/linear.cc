#include "models/linear.h"

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {

void Linear::Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  const float* bias_or_null = bias.num_elements() ? bias.f32() : nullptr;
  if (weight.dtype() == DType::kBF16) {
    ops::LinearBf16(pool, x, rows, in_features(), static_cast<const uint16_t*>(weight.view().raw()),
                    out_features(), bias_or_null, y);
  } else {
    ops::Linear(pool, x, rows, in_features(), weight.f32(), out_features(), bias_or_null, y);
  }
}

DType ParseWeightDType(const std::string& name) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  Fail("weight dtype '", name, "' is not supported (f32, bf16)");
}

void CheckWeightDType(DType dtype) {
  Check(dtype == DType::kF32 || dtype == DType::kBF16, "weights can be held as F32 or BF16, not ",
        DTypeName(dtype));
}

Linear LoadLinear(const Checkpoint& checkpoint, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias, DType weight_dtype) {
  CheckWeightDType(weight_dtype);
  Linear linear;
  linear.weight = checkpoint.Load(prefix + ".weight", {out_features, in_features}, weight_dtype);
  if (has_bias) linear.bias = checkpoint.LoadF32(prefix + ".bias", {out_features});
  return linear;
}

}  // namespace lightvlm
