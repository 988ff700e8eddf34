// The KV cache policy flags that run, chat, batch, eval, bench and kvfidelity share
// (docs/ALGORITHM.md, "KV cache compression"). Policy names are checked while parsing.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "reduce/kv_policy.h"

namespace lightvlm {

// --kv-budget, --kv-sinks, --kv-window, --kv-interval, --kv-pool into `options`; returns them.
std::vector<CLI::Option*> AddKvPolicyKnobs(CLI::App& command, KvPolicyOptions& options);

// --kv NAME (one policy, default none) and the knobs, for the commands that decode under a single
// policy (run, chat, batch, eval). A knob without --kv, or with --kv none, is a usage error: it
// would change nothing.
void AddKvPolicyFlags(CLI::App& command, std::string& name, KvPolicyOptions& options);

// --kv NAME... and the knobs, for the commands that compare several policies with none (bench,
// kvfidelity); the knobs apply to every policy.
void AddKvPolicyListFlags(CLI::App& command, std::vector<std::string>& names,
                          KvPolicyOptions& options);

}  // namespace lightvlm
