// The KV cache policy flags that run, bench and kvfidelity share (docs/ALGORITHM.md, "KV cache
// compression").
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "reduce/kv_policy.h"

namespace lightvlm {

// --kv-budget, --kv-sinks, --kv-window, --kv-interval, --kv-pool into `options`.
void AddKvPolicyKnobs(CLI::App& command, KvPolicyOptions& options);

}  // namespace lightvlm
