// What the prefill and decode parts of `lightvlm bench` share: a second configuration to compare
// with the first (--compare), the models and thread pools of the two, and the prompt, lengthened
// to a given number of tokens on request (--prompt-tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/dtype.h"
#include "base/thread_pool.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "eval/cost_model.h"
#include "io/image.h"

namespace lightvlm {

// A second configuration, timed alternately with the first in one run: `flags` are the --compare
// flags that turned the first into it, `options` the whole of it.
template <class Options>
struct BenchComparison {
  std::string flags;
  Options options;
};

// What a configuration loads.
struct BenchTarget {
  std::string model_dir;
  LoadOptions load;  // --dtype, --max-tiles
  int threads = 0;
};

// The model and thread pool of the first configuration and, when there is one, of the second. The
// second shares the first's model when both name the same directory and load options (one load, one
// copy in memory), and its pool when both ask for the same threads.
class BenchModels {
 public:
  BenchModels(const BenchTarget& first, const std::optional<BenchTarget>& second);

  // i = 0: the first configuration's; 1: the second's.
  const Model& model(int i) const {
    return i == 0 || !second_model_ ? first_model_ : *second_model_;
  }
  ThreadPool& pool(int i) const { return i == 0 || !second_pool_ ? *first_pool_ : *second_pool_; }
  bool shared_model() const { return !second_model_; }

 private:
  Model first_model_;
  std::optional<Model> second_model_;
  std::unique_ptr<ThreadPool> first_pool_, second_pool_;
};

// The image at `path`, or a synthetic one at the vision tower's size when `path` is empty.
Image BenchImage(const std::string& path);

// The model's prompt for `question` and `images`. With min_tokens > 0, filler sentences go before
// the question (which stays last, where reducers look for the query) until the prompt, image
// tokens included, has at least min_tokens tokens; fails when the plain prompt already has more.
Prompt BenchPrompt(const Model& model, const std::string& question,
                   std::span<const ImageEmbeddings> images, int64_t min_tokens);

// The JSON fields both bench reports share: the machine's ceilings and the OpenMP wait policy the
// run had (OMP_WAIT_POLICY, "" when unset), and, with a comparison, its
// flags, how its ratio reads (`ratio`) and whether B shared A's model.
void AddMachineJson(const MachineCeilings& ceilings, nlohmann::json& json);
void AddComparisonJson(const std::string& flags, std::string_view ratio, bool shares_model,
                       nlohmann::json& json);

}  // namespace lightvlm
