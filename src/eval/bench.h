// `lightvlm bench`, prefill part: times the LLM prefill of one image prompt with a reducer at
// several budgets against no reduction, in one run, and sets each time beside its FLOP count so
// that the measured speedup can be read against the theoretical one. With a second configuration
// (--compare), each budget's repeats alternate between the two, and each row gives their ratio.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/dtype.h"
#include "eval/bench_setup.h"
#include "eval/cost_model.h"
#include "models/kv_cache_limit.h"
#include "models/language_model.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

struct BenchOptions {
  std::string model_dir;
  std::string image_path;  // empty: a synthetic image at the vision tower's size
  std::string question = "Describe the image in detail.";
  int64_t prompt_tokens = 0;  // > 0: filler lengthens the prompt to at least this many tokens
  std::string reducer = "lightvlm";
  ReducerOptions reduction;                                    // budget.keep is set per row
  std::vector<double> budgets = {1.0, 0.5, 0.35, 0.11, 0.03};  // 1.0 runs `none`
  int repeats = 3;
  int warmup = 1;
  LoadOptions load;  // --dtype, --max-tiles
  int threads = 0;
  bool measure_ceilings = true;
  int64_t max_kv_bytes = kDefaultMaxKvBytes;  // checked before a prefill's KV cache is created
};

struct BenchRow {
  std::string method;
  double keep = 1.0;            // the budget asked for
  double average_keep = 1.0;    // what the plan gives
  double mean_live_tokens = 0;  // per layer, text included
  double prefill_ms = 0;        // median of the repeats, the last row's logits included
  double ttft_ms = 0;           // time to first token: vision_ms + prefill_ms
  double flops = 0;             // of the LLM prefill
  double gflops_per_s = 0;
  double theoretical_speedup = 1.0;  // FLOPs of the first row / FLOPs of this one
  double measured_speedup = 1.0;     // time of the first row / time of this one
  // With a second configuration: its row of the same index.
  std::string compare_method;
  double compare_keep = 0;
  double compare_prefill_ms = 0;
  double compare_ratio = 0;  // compare_prefill_ms / prefill_ms: how much faster the first is
};

struct BenchReport {
  std::string model_dir;
  std::string dtype;
  int threads = 0;
  int64_t prompt_tokens = 0;
  int64_t image_tokens = 0;
  double vision_ms = 0;  // median time to encode the image (vision tower and projector)
  MachineCeilings ceilings;
  size_t peak_rss_bytes = 0;  // of the whole process, the model included
  std::string compare;        // the second configuration's --compare flags; empty without one
  bool compare_shares_model = false;
  int64_t compare_prompt_tokens = 0;
  double compare_vision_ms = 0;
  std::vector<BenchRow> rows;
};

// Fails when `compare` has a different number of budgets.
BenchReport RunPrefillBench(
    const BenchOptions& options,
    const std::optional<BenchComparison<BenchOptions>>& compare = std::nullopt);
std::string FormatBenchReport(const BenchReport& report);
nlohmann::json BenchReportJson(const BenchReport& report);

}  // namespace lightvlm
