#include "apps/kv_flags.h"

#include "apps/known_names.h"

namespace lightvlm {

std::vector<CLI::Option*> AddKvPolicyKnobs(CLI::App& command, KvPolicyOptions& options) {
  // -1 leaves a knob to the policy; tests/apps/help_cli_test.cc checks these texts against the
  // policies' own defaults.
  struct Knob {
    const char* name;
    int64_t* value;
    const char* help;
  };
  const Knob knobs[] = {
      {"--kv-budget", &options.budget,
       "KV entries kept per layer at a compression (-1: the policy's)"},
      {"--kv-sinks", &options.sinks,
       "KV: first entries always kept (-1: the policy's: lightvlm 4, streaming 4, h2o 0, "
       "snapkv 0)"},
      {"--kv-window", &options.window,
       "KV: most recent entries always kept (-1: the policy's: lightvlm 64, snapkv 32, "
       "streaming budget - sinks, h2o half the budget)"},
      {"--kv-interval", &options.interval,
       "KV: decode steps between compressions, 0 only after prefill (-1: the policy's: "
       "lightvlm 16, streaming 16, h2o 16, snapkv 0)"},
      {"--kv-pool", &options.pool, "snapkv: width of the pooling of scores"},
  };
  std::vector<CLI::Option*> added;
  for (const Knob& knob : knobs) {
    added.push_back(command.add_option(knob.name, *knob.value, knob.help)->capture_default_str());
  }
  return added;
}

void AddKvPolicyFlags(CLI::App& command, std::string& name, KvPolicyOptions& options) {
  CLI::Option* kv =
      command.add_option("--kv", name, "KV cache policy in decode: " + JoinNames(KvPolicyNames()))
          ->check(KnownName("KV policy", KvPolicyNames()))
          ->capture_default_str();
  const std::vector<CLI::Option*> knobs = AddKvPolicyKnobs(command, options);
  for (CLI::Option* knob : knobs) knob->needs(kv);
  kv->check(CLI::Validator(
      [knobs](std::string& value) -> std::string {
        if (value != "none") return "";
        for (const CLI::Option* knob : knobs) {
          if (knob->count() > 0) {
            return knob->get_name() +
                   " does nothing with --kv none (the full cache): name a policy";
          }
        }
        return "";
      },
      "", "knobs need a policy"));
}

void AddKvPolicyListFlags(CLI::App& command, std::vector<std::string>& names,
                          KvPolicyOptions& options) {
  command
      .add_option("--kv", names,
                  "KV cache policies to compare with none: " + JoinNames(KvPolicyNames()))
      ->check(KnownName("KV policy", KvPolicyNames()))
      ->capture_default_str();
  AddKvPolicyKnobs(command, options);
}

}  // namespace lightvlm
