// The KV policies by name. Adding a baseline is one file and one line here.
#include <functional>
#include <map>

#include "base/error.h"
#include "reduce/kv_policy_factories.h"

namespace lightvlm {
namespace {

using Factory = std::function<std::unique_ptr<KvPolicy>(const KvPolicyOptions&)>;

const std::map<std::string, Factory>& Registry() {
  static const std::map<std::string, Factory> registry = {
      {"lightvlm", MakeLightVlmKv},     // the method: sinks, window, accumulated heavy hitters
      {"streaming", MakeStreamingLlm},  // sinks and a sliding window
      {"h2o", MakeHeavyHitterOracle},   // heavy hitters and recent tokens, every step
      {"snapkv", MakeSnapKv},           // once after prefill, by the prompt's last window
      {"none", MakeNoKvCompression},    // the full cache
  };
  return registry;
}

}  // namespace

std::vector<std::string> KvPolicyNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<KvPolicy> MakeKvPolicy(const std::string& name, const KvPolicyOptions& options) {
  const auto found = Registry().find(name);
  if (found == Registry().end()) {
    std::string known;
    for (const auto& each : KvPolicyNames()) known += (known.empty() ? "" : ", ") + each;
    Fail("unknown KV policy '", name, "' (known: ", known, ")");
  }
  return found->second(options);
}

}  // namespace lightvlm
