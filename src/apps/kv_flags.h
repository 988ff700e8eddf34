// The KV cache policy flags that run, eval, bench and kvfidelity share (docs/ALGORITHM.md, "KV
// cache compression").
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "reduce/kv_policy.h"

namespace lightvlm {

// --kv-budget, --kv-sinks, --kv-window, --kv-interval, --kv-pool into `options`.
void AddKvPolicyKnobs(CLI::App& command, KvPolicyOptions& options);

// --kv NAME (one policy, default none) and the knobs, for the commands that decode under a single
// policy (run, eval); bench and kvfidelity take a list of names to compare instead.
void AddKvPolicyFlags(CLI::App& command, std::string& name, KvPolicyOptions& options);

}  // namespace lightvlm
