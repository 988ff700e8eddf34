// The activations transformers names in configs (hidden_act, projector_hidden_act), applied by
// name so every family reads the same spellings.
#pragma once

#include <cstdint>
#include <string>

#include "base/thread_pool.h"

namespace lightvlm {

// Applies a transformers activation by its config name (gelu, gelu_pytorch_tanh, gelu_new,
// quick_gelu, silu) in place; fails naming the activation when it is unknown.
void ApplyActivation(ThreadPool& pool, const std::string& name, float* x, int64_t n);
// Fails, naming `where` and the activation, unless ApplyActivation knows `name`.
void CheckActivation(const std::string& name, const std::string& where);

}  // namespace lightvlm
