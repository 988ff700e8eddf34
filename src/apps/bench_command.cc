// `lightvlm bench`: prefill time at several image-token budgets beside the FLOPs they imply and
// the machine's measured ceilings; with --decode-context or --answer-tokens, decode time with KV
// cache policies beside the bytes they read.
#include <iostream>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "eval/bench.h"
#include "eval/decode_bench.h"
#include "models/linear.h"

namespace lightvlm {
namespace {

struct BenchCommandOptions {
  BenchOptions bench;
  DecodeBenchOptions decode;
  std::string weight_dtype = "bf16";
  std::string compare_dtype;  // empty: no comparison
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
  command
      ->add_option("--dtype", options->weight_dtype,
                   "Weights in memory: f32, bf16 or int8 (per output channel)")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}))
      ->capture_default_str();
  command->add_option("-t,--threads", bench.threads, "Threads (default: all cores)");
  command->add_flag(
      "--no-ceilings", [&bench](int64_t) { bench.measure_ceilings = false; },
      "Skip measuring the GEMM and copy ceilings");
  command->add_flag("--json", options->json, "Print JSON");
  DecodeBenchOptions& decode = options->decode;
  command->add_option("--decode-context", decode.synthetic_context,
                      "Time decode steps over a SYNTHETIC KV cache of N entries per layer");
  command->add_option("--answer-tokens", decode.answer_tokens,
                      "Time a whole answer of N tokens after the image prompt");
  command->add_option("--kv", decode.policies, "KV policies to time beside none")
      ->capture_default_str();
  AddKvPolicyKnobs(*command, decode.kv);
  command->add_option("--steps", decode.steps, "Timed decode steps (with --decode-context)")
      ->capture_default_str();
  command
      ->add_option("--compare-dtype", options->compare_dtype,
                   "With --decode-context: also time every step with weights in this dtype, "
                   "alternating steps in one run, and print the ratio")
      ->check(CLI::IsMember({"f32", "bf16", "int8"}));
  command
      ->add_option("--batch", decode.batch,
                   "Sequences decoded together, each step reading the weights once for all")
      ->capture_default_str();
  command->callback([options] {
    options->bench.weight_dtype = ParseWeightDType(options->weight_dtype);
    if (options->decode.synthetic_context > 0 || options->decode.answer_tokens > 0) {
      DecodeBenchOptions decode = options->decode;
      decode.model_dir = options->bench.model_dir;
      decode.image_path = options->bench.image_path;
      decode.question = options->bench.question;
      decode.weight_dtype = options->bench.weight_dtype;
      if (!options->compare_dtype.empty()) {
        decode.compare_dtype = ParseWeightDType(options->compare_dtype);
      }
      decode.threads = options->bench.threads;
      const DecodeBenchReport report = RunDecodeBench(decode);
      std::cout << (options->json ? DecodeBenchReportJson(report).dump(2) + "\n"
                                  : FormatDecodeBenchReport(report));
      return;
    }
    const BenchReport report = RunPrefillBench(options->bench);
    if (options->json) {
      std::cout << BenchReportJson(report).dump(2) << std::endl;
    } else {
      std::cout << FormatBenchReport(report);
    }
  });
}

}  // namespace lightvlm
