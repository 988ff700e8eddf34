// The reducers by name. Adding a baseline is one file and one line here.
#include <functional>
#include <map>

#include "base/error.h"
#include "reduce/reducer_factories.h"

namespace lightvlm {
namespace {

using Factory = std::function<std::unique_ptr<TokenReducer>(const ReducerOptions&)>;

const std::map<std::string, Factory>& Registry() {
  static const std::map<std::string, Factory> registry = {
      {"lightvlm", MakeLightVlmMerge},  // the method: pyramid token merging
      {"fastv", MakeFastV},             // prune once by attention
      {"pdrop", MakePyramidDrop},       // prune by attention at 1/4, 1/2, 3/4 of depth
      {"dart", MakeDart},               // prune once, keeping tokens unlike pivot tokens
      {"cdpruner", MakeCdPruner},       // prune before the LLM by a conditional DPP
      {"visionzip", MakeVisionZip},     // vision-tower saliency plus merged context, before the LLM
      {"random", MakeRandomPrune},      // prune once, a random subset
      {"uniform", MakeUniformPrune},    // prune once, a spatial lattice
      {"none", MakeNoReduction},        // every token through every layer
  };
  return registry;
}

}  // namespace

std::vector<std::string> TokenReducerNames() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<TokenReducer> MakeTokenReducer(const std::string& name,
                                               const ReducerOptions& options) {
  const auto found = Registry().find(name);
  if (found == Registry().end()) {
    std::string known;
    for (const auto& each : TokenReducerNames()) known += (known.empty() ? "" : ", ") + each;
    Fail("unknown reducer '", name, "' (known: ", known, ")");
  }
  return found->second(options);
}

}  // namespace lightvlm
