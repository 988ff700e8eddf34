// `lightvlm bench`, decode part: times decode steps with each KV cache policy against the full
// cache, in one run, and sets each time beside the bytes a step reads (every weight plus every
// live KV entry, once), so the measured speedup can be read against the one the bytes predict.
// Two modes: decode steps over a synthetic cache of a given length (random keys and values, no
// prefill, so long contexts cost no prefill time), or a whole answer of a given length after a
// real image prompt. Either runs `batch` sequences at once (Session::DecodeBatch): each step
// reads the weights once for all of them and every sequence's own cache. With a second
// configuration (--compare), each row prepares both configurations' sequences, then their decode
// steps alternate, and the row gives the ratio of their throughputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/dtype.h"
#include "eval/bench_setup.h"
#include "eval/cost_model.h"
#include "models/kv_cache.h"
#include "models/kv_cache_limit.h"
#include "models/language_model.h"
#include "reduce/kv_policy.h"

namespace lightvlm {

struct DecodeBenchOptions {
  std::string model_dir;
  std::vector<std::string> policies = {"lightvlm"};  // each timed beside `none`, which runs first
  KvPolicyOptions kv;
  int64_t synthetic_context = 0;  // > 0: entries per layer of the synthetic cache
  int64_t answer_tokens = 0;      // > 0: tokens of a whole answer after an image prompt
  std::string image_path;         // empty: a synthetic image at the vision tower's size
  std::string question = "Describe the image in detail.";
  int64_t prompt_tokens = 0;  // answer mode, > 0: filler lengthens the prompt to at least this
  int64_t batch = 1;          // sequences decoded together, each with its own cache and policy
  int64_t steps = 64;         // synthetic mode: timed steps (the median is reported)
  int64_t warmup = 8;         // synthetic mode: untimed steps first
  LoadOptions load;           // --dtype, --max-tiles
  DType kv_dtype = kDefaultKvDType;           // of every sequence's cached keys and values
  int64_t max_kv_bytes = kDefaultMaxKvBytes;  // checked before the sequences' caches are created
  int threads = 0;
  // Also measure the machine's copy and GEMM ceilings (a few seconds), so that each synthetic
  // row's bytes per second can be read as a share of the copy bound.
  bool measure_ceilings = false;
};

struct DecodeBenchRow {
  std::string policy;
  int64_t budget = 0;            // per layer, as resolved (0 for none)
  double mean_live_entries = 0;  // per layer, read by the timed steps
  double kv_bytes_per_step = 0;  // live entries' keys, values and indices, all layers and sequences
  double step_ms = 0;            // median of the timed steps (synthetic) or mean (answer)
  double tokens_per_s = 0;       // batch tokens per step / step time
  double decode_ms = 0;          // answer mode: the whole answer's decode
  size_t peak_kv_bytes = 0;      // of the first sequence
  double predicted_speedup = 1;  // bytes per step of `none` / of this row (synthetic mode)
  double measured_speedup = 1;   // time of `none` / of this row
  // With a second configuration: its row of the same index.
  std::string compare_policy;
  double compare_step_ms = 0;
  double compare_tokens_per_s = 0;
  double compare_ratio = 0;  // tokens_per_s / compare_tokens_per_s: how many times more A has
};

struct DecodeBenchReport {
  std::string model_dir;
  std::string dtype;
  std::string kv_dtype;
  int threads = 0;
  bool synthetic = false;
  int64_t context = 0;        // synthetic cache entries per layer, or the prompt's tokens
  int64_t answer_tokens = 0;  // answer mode
  int64_t steps = 0;          // timed steps per row
  int64_t batch = 1;
  double weight_bytes = 0;    // the decoder's matrices, read once per step
  size_t peak_rss_bytes = 0;  // of the whole process, models and caches included
  MachineCeilings ceilings;   // zero unless measured
  std::string compare;        // the second configuration's --compare flags; empty without one
  bool compare_shares_model = false;
  double compare_weight_bytes = 0;
  int64_t compare_context = 0;
  int64_t compare_batch = 0;
  std::vector<DecodeBenchRow> rows;
};

// Fails when `compare` is in the other mode or times a different number of rows.
DecodeBenchReport RunDecodeBench(
    const DecodeBenchOptions& options,
    const std::optional<BenchComparison<DecodeBenchOptions>>& compare = std::nullopt);
std::string FormatDecodeBenchReport(const DecodeBenchReport& report);
// Synthetic mode: the bytes a step of `row` reads (weights once, every live KV entry) per second.
double SyntheticGigabytesPerSecond(const DecodeBenchReport& report, const DecodeBenchRow& row);
nlohmann::json DecodeBenchReportJson(const DecodeBenchReport& report);

}  // namespace lightvlm
