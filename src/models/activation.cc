#include "models/activation.h"

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {

void CheckActivation(const std::string& name, const std::string& where) {
  Check(name == "gelu" || name == "gelu_pytorch_tanh" || name == "gelu_new" ||
            name == "quick_gelu" || name == "silu",
        where, " '", name,
        "' is not supported (supported: gelu, gelu_pytorch_tanh, gelu_new, quick_gelu, silu)");
}

void ApplyActivation(const std::string& name, float* x, int64_t n) {
  if (name == "gelu") return ops::Gelu(x, n);
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return ops::GeluTanh(x, n);
  if (name == "quick_gelu") return ops::QuickGelu(x, n);
  if (name == "silu") return ops::Silu(x, n);
  CheckActivation(name, "activation");
}

}  // namespace lightvlm
