#include "apps/kv_flags.h"

namespace lightvlm {

void AddKvPolicyKnobs(CLI::App& command, KvPolicyOptions& options) {
  command.add_option("--kv-budget", options.budget,
                     "KV entries kept per layer at a compression (default: the policy's)");
  command.add_option("--kv-sinks", options.sinks,
                     "KV: first entries always kept (default: lightvlm/streaming 4, h2o/snapkv 0)");
  command.add_option("--kv-window", options.window,
                     "KV: most recent entries always kept (default: lightvlm 64, snapkv 32, "
                     "streaming budget - sinks, h2o half the budget)");
  command.add_option("--kv-interval", options.interval,
                     "KV: decode steps between compressions, 0 only after prefill (default: "
                     "lightvlm 16, streaming/h2o 1, snapkv 0)");
  command.add_option("--kv-pool", options.pool, "snapkv: width of the pooling of scores")
      ->capture_default_str();
}

void AddKvPolicyFlags(CLI::App& command, std::string& name, KvPolicyOptions& options) {
  command
      .add_option("--kv", name, "KV cache policy in decode: lightvlm, streaming, h2o, snapkv, none")
      ->capture_default_str();
  AddKvPolicyKnobs(command, options);
}

}  // namespace lightvlm
