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

void ApplyActivation(ThreadPool& pool, const std::string& name, float* x, int64_t n) {
  if (name == "gelu") return ops::Gelu(pool, x, n);
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return ops::GeluTanh(pool, x, n);
  if (name == "quick_gelu") return ops::QuickGelu(pool, x, n);
  if (name == "silu") return ops::Silu(pool, x, n);
  CheckActivation(name, "activation");
}

}  // namespace lightvlm
