// `lightvlm bench`: prefill time at several image-token budgets beside the FLOPs they imply and
// the machine's measured ceilings.
#include <iostream>

#include "apps/commands.h"
#include "eval/bench.h"
#include "models/linear.h"

namespace lightvlm {
namespace {

struct BenchCommandOptions {
  BenchOptions bench;
  std::string weight_dtype = "bf16";
  bool json = false;
};

}  // namespace

void AddBenchCommand(CLI::App& app) {
  auto options = std::make_shared<BenchCommandOptions>();
  BenchOptions& bench = options->bench;
  CLI::App* command =
      app.add_subcommand("bench", "Time prefill at several image-token budgets, in one run");
  command->add_option("-m,--model", bench.model_dir, "Checkpoint directory")->required();
  command->add_option("-i,--image", bench.image_path,
                      "Image file (default: a synthetic image at the vision tower's size)");
  command->add_option("-p,--prompt", bench.question, "The question")->capture_default_str();
  command->add_option("--reduce", bench.reducer, "Reducer to time against none")
      ->capture_default_str();
  command->add_option("--budgets", bench.budgets, "Budgets (--keep values); 1 runs none")
      ->capture_default_str();
  command->add_option("--query-tokens", bench.reduction.query_tokens)->capture_default_str();
  command->add_option("--stages", bench.reduction.stages)->capture_default_str();
  command->add_option("--repeats", bench.repeats, "Timed runs per budget (median reported)")
      ->capture_default_str();
  command->add_option("--warmup", bench.warmup, "Untimed runs first")->capture_default_str();
  command->add_option("--dtype", options->weight_dtype, "Weights in memory: f32 or bf16")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  command->add_option("-t,--threads", bench.threads, "Threads (default: all cores)");
  command->add_flag(
      "--no-ceilings", [&bench](int64_t) { bench.measure_ceilings = false; },
      "Skip measuring the GEMM and copy ceilings");
  command->add_flag("--json", options->json, "Print JSON");
  command->callback([options] {
    options->bench.weight_dtype = ParseWeightDType(options->weight_dtype);
    const BenchReport report = RunPrefillBench(options->bench);
    if (options->json) {
      std::cout << BenchReportJson(report).dump(2) << std::endl;
    } else {
      std::cout << FormatBenchReport(report);
    }
  });
}

}  // namespace lightvlm
