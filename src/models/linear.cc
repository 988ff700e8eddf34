#include "models/linear.h"

#include "ops/ops.h"

namespace lightvlm {

void Linear::Forward(ThreadPool& pool, const float* x, int64_t rows, float* y) const {
  ops::Linear(pool, x, rows, in_features(), weight.f32(), out_features(),
              bias.num_elements() ? bias.f32() : nullptr, y);
}

Linear LoadLinear(const Checkpoint& checkpoint, const std::string& prefix, int64_t out_features,
                  int64_t in_features, bool has_bias) {
  Linear linear;
  linear.weight = checkpoint.LoadF32(prefix + ".weight", {out_features, in_features});
  if (has_bias) linear.bias = checkpoint.LoadF32(prefix + ".bias", {out_features});
  return linear;
}

}  // namespace lightvlm
