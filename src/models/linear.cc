#include "models/linear.h"

#include <utility>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {

void Linear::Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  const float* bias_or_null = bias.num_elements() ? bias.f32() : nullptr;
  switch (weight.dtype()) {
    case DType::kBF16:
      return ops::LinearBf16(pool, x, rows, in_features(),
                             static_cast<const uint16_t*>(weight.view().raw()), out_features(),
                             bias_or_null, y);
    case DType::kI8:
      return ops::LinearInt8(pool, x, rows, in_features(),
                             static_cast<const int8_t*>(weight.view().raw()), scales.f32(),
                             in_features() / scales.dim(1), out_features(), bias_or_null, y);
    case DType::kQ4:
      return ops::LinearQ4(
          pool, x, rows, in_features(), static_cast<const uint8_t*>(weight.view().raw()),
          static_cast<const uint16_t*>(scales.view().raw()), out_features(), bias_or_null, y);
    default:
      return ops::Linear(pool, x, rows, in_features(), weight.f32(), out_features(), bias_or_null,
                         y);
  }
}

DType ParseWeightDType(const std::string& name) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  if (name == "int8") return DType::kI8;
  if (name == "q4") return DType::kQ4;
  Fail("weight dtype '", name, "' is not supported (f32, bf16, int8, q4)");
}

DType LogitsWeightDType(DType weight_dtype) {
  return weight_dtype == DType::kQ4 ? DType::kI8 : weight_dtype;
}

void CheckWeightDType(DType dtype) {
  Check(dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kI8 || dtype == DType::kQ4,
        "weights can be held as F32, BF16, I8 or Q4, not ", DTypeName(dtype));
}

Linear QuantizeLinearInt8(const Tensor& weight) {
  const int64_t out = weight.dim(0), in = weight.dim(1);
  Linear linear;
  linear.weight = Tensor(DType::kI8, {out, in});
  linear.scales = Tensor(DType::kF32, {out, 1});
  ops::QuantizeInt8(weight.f32(), out, in, in, static_cast<int8_t*>(linear.weight.view().raw()),
                    linear.scales.f32());
  return linear;
}

Linear QuantizeLinearQ4(const Tensor& weight) {
  const int64_t out = weight.dim(0), in = weight.dim(1);
  Linear linear;
  linear.weight = Tensor(DType::kQ4, {out, in});
  linear.scales = Tensor(DType::kBF16, {out, ops::Q4Groups(in), 2});
  ops::QuantizeQ4(weight.f32(), out, in, static_cast<uint8_t*>(linear.weight.view().raw()),
                  static_cast<uint16_t*>(linear.scales.view().raw()));
  return linear;
}

Linear LinearFromF32(Tensor weight, DType weight_dtype) {
  CheckWeightDType(weight_dtype);
  if (weight_dtype == DType::kI8) return QuantizeLinearInt8(weight);
  if (weight_dtype == DType::kQ4) return QuantizeLinearQ4(weight);
  Linear linear;
  if (weight_dtype == DType::kF32) {
    linear.weight = std::move(weight);
    return linear;
  }
  linear.weight = Tensor(weight_dtype, weight.shape());
  ConvertFromF32(weight.f32(), weight_dtype, linear.weight.view().raw(), weight.num_elements());
  return linear;
}

Linear LoadLinearWeight(const TensorSource& weights, const std::string& name, int64_t out_features,
                        int64_t in_features, DType weight_dtype) {
  CheckWeightDType(weight_dtype);
  Check(weight_dtype != DType::kQ4 || in_features % 2 == 0, "'", name, "' has ", in_features,
        " input columns: 4-bit weights (--dtype q4) need an even number");
  if (weight_dtype == DType::kI8 || weight_dtype == DType::kQ4) {
    return LinearFromF32(weights.LoadF32(name, {out_features, in_features}), weight_dtype);
  }
  Linear linear;
  linear.weight = weights.Load(name, {out_features, in_features}, weight_dtype);
  return linear;
}

Linear LoadLinear(const TensorSource& weights, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias, DType weight_dtype) {
  Linear linear =
      LoadLinearWeight(weights, prefix + ".weight", out_features, in_features, weight_dtype);
  if (has_bias) linear.bias = weights.LoadF32(prefix + ".bias", {out_features});
  return linear;
}

}  // namespace lightvlm
