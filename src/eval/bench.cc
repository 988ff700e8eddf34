#include "eval/bench.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "base/error.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/session.h"
#include "eval/median.h"
#include "eval/peak_memory.h"
#include "eval/synthetic_image.h"
#include "io/image.h"

namespace lightvlm {
namespace {

template <class Work>
double MedianMilliseconds(int warmup, int repeats, Work work) {
  for (int i = 0; i < warmup; ++i) work();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return Median(times);
}

std::vector<int64_t> LiveTokensPerLayer(const TokenReducer& reducer, int64_t text_tokens,
                                        int64_t layers) {
  std::vector<int64_t> live = reducer.ImageTokensPerLayer();
  if (live.empty()) live.assign(layers, 0);
  for (int64_t& tokens : live) tokens += text_tokens;
  return live;
}

}  // namespace

BenchReport RunPrefillBench(const BenchOptions& options) {
  Check(options.repeats > 0 && options.warmup >= 0, "bench: --repeats must be positive");
  Check(!options.budgets.empty(), "bench: no budgets to run");
  const Model model = LoadModel(options.model_dir, options.weight_dtype);
  ThreadPool pool(options.threads);
  const LlmConfig& config = model.config();

  BenchReport report;
  report.model_dir = options.model_dir;
  report.dtype = std::string(DTypeName(options.weight_dtype));
  report.threads = pool.num_threads();
  std::vector<ImageEmbeddings> images;
  if (model.language_model->image_token_id() >= 0) {
    const Image image =
        options.image_path.empty() ? SyntheticImage(336) : LoadImage(options.image_path);
    report.vision_ms = MedianMilliseconds(options.warmup, options.repeats, [&] {
      images.clear();
      images.push_back(model.language_model->EncodeImage(pool, image));
    });
  }
  const std::string text =
      model.language_model->FormatPrompt(options.question, static_cast<int64_t>(images.size()));
  const Prompt prompt = AssemblePrompt(model.tokenizer->Encode(text, true), images,
                                       model.language_model->image_token_id());
  report.prompt_tokens = prompt.size();
  for (const ImageEmbeddings& image : images) report.image_tokens += image.rows.dim(0);

  for (double keep : options.budgets) {
    ReducerOptions reduction = options.reduction;
    reduction.budget.keep = keep;
    const std::string method = keep >= 1.0 ? "none" : options.reducer;
    const auto reducer = MakeTokenReducer(method, reduction);
    BenchRow row;
    row.method = method;
    row.keep = keep;
    row.prefill_ms = MedianMilliseconds(options.warmup, options.repeats, [&] {
      Session session(model.decoder(), pool, prompt.size() + 1);
      session.SetTokenReducer(reducer.get());
      session.Prefill(prompt);
    });
    const auto live =
        LiveTokensPerLayer(*reducer, report.prompt_tokens - report.image_tokens, config.num_layers);
    row.average_keep = reducer->AverageKeep();
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
    report.rows.push_back(row);
  }
  report.peak_rss_bytes = PeakResidentBytes();  // before the ceilings' own buffers
  if (options.measure_ceilings) report.ceilings = MeasureCeilings(pool, options.weight_dtype);
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
  out << "method     keep  achieved  live/layer  prefill_ms  TTFT_ms   GFLOP  GFLOP/s  speedup  "
         "theoretical\n";
  for (const BenchRow& row : report.rows) {
    out << std::left << std::setw(9) << row.method << std::right << std::setw(6) << row.keep
        << std::setw(10) << row.average_keep << std::setw(12) << row.mean_live_tokens
        << std::setw(12) << row.prefill_ms << std::setw(9) << row.ttft_ms << std::setw(8)
        << row.flops / 1e9 << std::setw(9) << row.gflops_per_s << std::setw(9)
        << row.measured_speedup << std::setw(13) << row.theoretical_speedup << '\n';
  }
  return out.str();
}

nlohmann::json BenchReportJson(const BenchReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const BenchRow& row : report.rows) {
    rows.push_back({{"method", row.method},
                    {"keep", row.keep},
                    {"average_keep", row.average_keep},
                    {"mean_live_tokens", row.mean_live_tokens},
                    {"prefill_ms", row.prefill_ms},
                    {"ttft_ms", row.ttft_ms},
                    {"flops", row.flops},
                    {"gflops_per_s", row.gflops_per_s},
                    {"measured_speedup", row.measured_speedup},
                    {"theoretical_speedup", row.theoretical_speedup}});
  }
  return {{"model", report.model_dir},
          {"dtype", report.dtype},
          {"threads", report.threads},
          {"prompt_tokens", report.prompt_tokens},
          {"image_tokens", report.image_tokens},
          {"vision_ms", report.vision_ms},
          {"peak_rss_bytes", report.peak_rss_bytes},
          {"ceiling_gemm_gflops", report.ceilings.gemm_gflops},
          {"ceiling_copy_gbytes_s", report.ceilings.copy_gbytes_s},
          {"rows", rows}};
}

}  // namespace lightvlm
