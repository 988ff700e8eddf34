#include "eval/bench.h"

#include <chrono>
#include <functional>
#include <iomanip>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "base/progress.h"
#include "engine/session.h"
#include "eval/median.h"
#include "eval/peak_memory.h"

namespace lightvlm {
namespace {

using Clock = std::chrono::steady_clock;

// A timed prefill's KV cache: the prompt and the row its logits would append.
int64_t PrefillContext(const Prompt& prompt) { return prompt.size() + 1; }

constexpr const char* kPrefillRatio =
    "B's prefill_ms / A's (above 1: A is faster), repeats alternating A, B in one run";

// Work run `warmup` times untimed, then `repeats` times timed.
struct TimedWork {
  int warmup = 0;
  int repeats = 0;
  std::function<void()> run;
};

// Runs every work's warm-ups and then its timed runs, the works taking turns run by run (A, B,
// A, B...) so that they meet the same machine load; returns each one's median time in ms.
std::vector<double> AlternatingMedians(const std::vector<TimedWork>& works) {
  std::vector<std::vector<double>> times(works.size());
  for (int run = 0;; ++run) {
    bool ran = false;
    for (size_t i = 0; i < works.size(); ++i) {
      if (run >= works[i].warmup + works[i].repeats) continue;
      ran = true;
      const auto start = Clock::now();
      works[i].run();
      if (run < works[i].warmup) continue;
      times[i].push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    if (!ran) break;
  }
  std::vector<double> medians;
  for (const std::vector<double>& some : times) medians.push_back(Median(some));
  return medians;
}

std::vector<int64_t> LiveTokensPerLayer(const TokenReducer& reducer, int64_t text_tokens,
                                        int64_t layers) {
  std::vector<int64_t> live = reducer.ImageTokensPerLayer();
  if (live.empty()) live.assign(layers, 0);
  for (int64_t& tokens : live) tokens += text_tokens;
  return live;
}

std::string MethodAt(const BenchOptions& options, size_t row) {
  return options.budgets[row] >= 1.0 ? "none" : options.reducer;
}

// A configuration's encoded images (the prompt points into them) and its prompt.
struct PrefillInput {
  std::vector<ImageEmbeddings> images;
  Prompt prompt;
  double vision_ms = 0;
  int64_t image_tokens = 0;
};

void CheckOptions(const BenchOptions& options) {
  Check(options.repeats > 0 && options.warmup >= 0, "bench: --repeats must be positive");
  Check(!options.budgets.empty(), "bench: no budgets to run");
}

BenchTarget TargetOf(const BenchOptions& options) {
  return {options.model_dir, options.load, options.threads};
}

}  // namespace

BenchReport RunPrefillBench(const BenchOptions& options,
                            const std::optional<BenchComparison<BenchOptions>>& compare) {
  std::vector<const BenchOptions*> configs = {&options};
  if (compare) configs.push_back(&compare->options);
  for (const BenchOptions* config : configs) CheckOptions(*config);
  if (compare) {
    Check(compare->options.budgets.size() == options.budgets.size(), "bench: --compare \"",
          compare->flags, "\" gives ", compare->options.budgets.size(),
          " budgets and the first configuration ", options.budgets.size(),
          ": rows are paired by index, so both need the same number of --budgets");
  }
  const BenchModels models(TargetOf(options),
                           compare ? std::optional(TargetOf(compare->options)) : std::nullopt);

  // Each configuration's image encoded (timed, alternating) and its prompt assembled.
  std::vector<PrefillInput> inputs(configs.size());
  std::vector<TimedWork> encodes;
  for (size_t i = 0; i < configs.size(); ++i) {
    const bool has_image = models.model(i).language_model->image_token_id() >= 0;
    encodes.push_back({has_image ? configs[i]->warmup : 0, has_image ? configs[i]->repeats : 0,
                       [&, i, image = has_image ? BenchImage(configs[i]->image_path) : Image()] {
                         inputs[i].images.clear();
                         inputs[i].images.push_back(
                             models.model(i).language_model->EncodeImage(models.pool(i), image));
                       }});
  }
  const std::vector<double> vision_ms = AlternatingMedians(encodes);
  for (size_t i = 0; i < configs.size(); ++i) {
    PrefillInput& input = inputs[i];
    input.vision_ms = vision_ms[i];
    input.prompt =
        BenchPrompt(models.model(i), configs[i]->question, input.images, configs[i]->prompt_tokens);
    CheckKvCacheBytes(models.model(i).config(), PrefillContext(input.prompt), 1, kDefaultKvDType,
                      configs[i]->max_kv_bytes, "the prompt and its first token",
                      "--prompt-tokens");
    for (const ImageEmbeddings& image : input.images) input.image_tokens += image.rows.dim(0);
  }

  const LlmConfig& config = models.model(0).config();
  BenchReport report;
  report.model_dir = options.model_dir;
  report.dtype = std::string(DTypeName(options.load.weight_dtype));
  report.threads = models.pool(0).num_threads();
  report.prompt_tokens = inputs[0].prompt.size();
  report.image_tokens = inputs[0].image_tokens;
  report.vision_ms = inputs[0].vision_ms;
  if (compare) {
    report.compare = compare->flags;
    report.compare_shares_model = models.shared_model();
    report.compare_prompt_tokens = inputs[1].prompt.size();
    report.compare_vision_ms = inputs[1].vision_ms;
  }

  // A row a step: drawn between the timed runs, never inside them.
  Progress progress("bench", static_cast<int64_t>(options.budgets.size()));
  for (size_t r = 0; r < options.budgets.size(); ++r) {
    std::vector<std::unique_ptr<TokenReducer>> reducers;
    std::vector<TimedWork> prefills;
    for (size_t i = 0; i < configs.size(); ++i) {
      ReducerOptions reduction = configs[i]->reduction;
      reduction.budget.keep = configs[i]->budgets[r];
      reducers.push_back(MakeTokenReducer(MethodAt(*configs[i], r), reduction));
      prefills.push_back({configs[i]->warmup, configs[i]->repeats, [&, i] {
                            const Prompt& prompt = inputs[i].prompt;
                            Session session(models.model(i).decoder(), models.pool(i),
                                            PrefillContext(prompt));
                            session.SetTokenReducer(reducers[i].get());
                            session.Prefill(prompt);
                          }});
    }
    const std::vector<double> prefill_ms = AlternatingMedians(prefills);
    BenchRow row;
    row.method = MethodAt(options, r);
    row.keep = options.budgets[r];
    row.prefill_ms = prefill_ms[0];
    const TokenReducer& reducer = *reducers[0];
    const auto live =
        LiveTokensPerLayer(reducer, report.prompt_tokens - report.image_tokens, config.num_layers);
    row.average_keep = reducer.AverageKeep();
    double total = 0;
    for (int64_t tokens : live) total += tokens;
    row.mean_live_tokens = total / config.num_layers;
    row.flops = PrefillFlops(config, live);
    row.gflops_per_s = row.flops / (row.prefill_ms * 1e6);
    row.ttft_ms = report.vision_ms + row.prefill_ms;
    if (!report.rows.empty()) {
      row.theoretical_speedup = report.rows.front().flops / row.flops;
      row.measured_speedup = report.rows.front().prefill_ms / row.prefill_ms;
    }
    if (compare) {
      row.compare_method = MethodAt(compare->options, r);
      row.compare_keep = compare->options.budgets[r];
      row.compare_prefill_ms = prefill_ms[1];
      row.compare_ratio = row.compare_prefill_ms / row.prefill_ms;
    }
    report.rows.push_back(row);
    progress.Advance();
  }
  report.peak_rss_bytes = PeakResidentBytes();  // before the ceilings' own buffers
  if (options.measure_ceilings) {
    report.ceilings = MeasureCeilings(models.pool(0), options.load.weight_dtype);
  }
  return report;
}

std::string FormatBenchReport(const BenchReport& report) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  out << "model " << report.model_dir << " (" << report.dtype << " weights, " << report.threads
      << " threads): prompt " << report.prompt_tokens << " tokens of which " << report.image_tokens
      << " image tokens; vision encoder " << report.vision_ms << " ms; peak resident memory "
      << report.peak_rss_bytes / 1e6 << " MB\n";
  if (report.ceilings.gemm_gflops > 0) {
    out << "machine ceilings: GEMM " << report.ceilings.gemm_gflops << " GFLOP/s (" << report.dtype
        << ", 1024x4096x4096), copy " << report.ceilings.copy_gbytes_s << " GB/s\n";
  }
  const bool compared = !report.compare.empty();
  out << "method     keep  achieved  live/layer  prefill_ms  TTFT_ms   GFLOP  GFLOP/s  speedup  "
         "theoretical";
  if (compared) out << "  B_prefill_ms  ratio";
  out << '\n';
  for (const BenchRow& row : report.rows) {
    out << std::left << std::setw(9) << row.method << std::right << std::setw(6) << row.keep
        << std::setw(10) << row.average_keep << std::setw(12) << row.mean_live_tokens
        << std::setw(12) << row.prefill_ms << std::setw(9) << row.ttft_ms << std::setw(8)
        << row.flops / 1e9 << std::setw(9) << row.gflops_per_s << std::setw(9)
        << row.measured_speedup << std::setw(13) << row.theoretical_speedup;
    if (compared)
      out << std::setw(14) << row.compare_prefill_ms << std::setw(7) << row.compare_ratio;
    out << '\n';
  }
  if (compared) {
    out << "B: A (the configuration above) with --compare \"" << report.compare
        << "\" on top (prompt " << report.compare_prompt_tokens << " tokens, vision encoder "
        << report.compare_vision_ms << " ms, "
        << (report.compare_shares_model ? "A's model" : "a model of its own")
        << "), rows paired by index; ratio = " << kPrefillRatio << '\n';
  }
  return out.str();
}

nlohmann::json BenchReportJson(const BenchReport& report) {
  const bool compared = !report.compare.empty();
  nlohmann::json rows = nlohmann::json::array();
  for (const BenchRow& row : report.rows) {
    nlohmann::json& json =
        rows.emplace_back(nlohmann::json{{"method", row.method},
                                         {"keep", row.keep},
                                         {"average_keep", row.average_keep},
                                         {"mean_live_tokens", row.mean_live_tokens},
                                         {"prefill_ms", row.prefill_ms},
                                         {"ttft_ms", row.ttft_ms},
                                         {"flops", row.flops},
                                         {"gflops_per_s", row.gflops_per_s},
                                         {"measured_speedup", row.measured_speedup},
                                         {"theoretical_speedup", row.theoretical_speedup}});
    if (compared) {
      json["compare_method"] = row.compare_method;
      json["compare_keep"] = row.compare_keep;
      json["compare_prefill_ms"] = row.compare_prefill_ms;
      json["compare_ratio"] = row.compare_ratio;
    }
  }
  nlohmann::json json = {{"model", report.model_dir},
                         {"dtype", report.dtype},
                         {"threads", report.threads},
                         {"prompt_tokens", report.prompt_tokens},
                         {"image_tokens", report.image_tokens},
                         {"vision_ms", report.vision_ms},
                         {"peak_rss_bytes", report.peak_rss_bytes},
                         {"rows", rows}};
  AddMachineJson(report.ceilings, json);
  if (compared) {
    AddComparisonJson(report.compare, kPrefillRatio, report.compare_shares_model, json);
    json["compare_prompt_tokens"] = report.compare_prompt_tokens;
    json["compare_vision_ms"] = report.compare_vision_ms;
  }
  return json;
}

}  // namespace lightvlm
