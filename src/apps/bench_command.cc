// `lightvlm bench`: prefill time at several image-token budgets beside the FLOPs they imply and
// the machine's measured ceilings; with --decode-context or --answer-tokens, decode time with KV
// cache policies beside the bytes they read. --compare "FLAGS" times a second configuration, this
// one with FLAGS on top, alternately with it in one run, and prints their ratio.
#include <iostream>
#include <optional>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
#include "base/error.h"
#include "eval/bench.h"
#include "eval/decode_bench.h"
#include "models/linear.h"

namespace lightvlm {
namespace {

// One configuration, as the flags give it.
struct BenchConfiguration {
  BenchOptions bench;
  DecodeBenchOptions decode;
  LoadFlags load;
  QueryFlags query;  // parsed into bench.reduction

  bool decodes() const { return decode.synthetic_context > 0 || decode.answer_tokens > 0; }
};

// The flags of one configuration, bound to `config`: the command's own, and again the flags of
// --compare, parsed onto a copy of the first configuration.
void AddConfigurationFlags(CLI::App& command, BenchConfiguration& config, bool model_required) {
  BenchOptions& bench = config.bench;
  AddModelFlag(command, bench.model_dir)->required(model_required);
  command.add_option("-i,--image", bench.image_path,
                     "Image file (none: a synthetic image at the vision tower's size)");
  command.add_option("-p,--prompt", bench.question, "The question")->capture_default_str();
  command
      .add_option("--prompt-tokens", bench.prompt_tokens,
                  "Lengthen the prompt with filler sentences before the question to at least "
                  "N tokens, image tokens included (prefill and --answer-tokens; N below the "
                  "plain prompt's length fails; 0: no filler)")
      ->capture_default_str();
  AddReducerNameFlag(command, bench.reducer);
  command.add_option("--budgets", bench.budgets, "Budgets (--keep values) to time; 1 runs none")
      ->capture_default_str();
  AddReducerKnobs(command, bench.reduction, config.query);
  command.add_option("--repeats", bench.repeats, "Timed runs per budget (median reported)")
      ->capture_default_str();
  command.add_option("--warmup", bench.warmup, "Untimed runs first")->capture_default_str();
  AddLoadFlags(command, config.load);
  AddThreadsFlag(command, bench.threads);
  command.add_flag(
      "--no-ceilings", [&bench](int64_t) { bench.measure_ceilings = false; },
      "Skip measuring the GEMM and copy ceilings");
  DecodeBenchOptions& decode = config.decode;
  command
      .add_option("--decode-context", decode.synthetic_context,
                  "Time decode steps over a SYNTHETIC KV cache of N entries per layer (0: "
                  "no)")
      ->capture_default_str();
  command
      .add_option("--answer-tokens,--gen", decode.answer_tokens,
                  "Time a whole answer of N tokens after the image prompt (0: no)")
      ->capture_default_str();
  AddKvPolicyListFlags(command, decode.policies, decode.kv);
  AddKvDTypeFlag(command, decode.kv_dtype);
  AddMaxKvBytesFlag(command, bench.max_kv_bytes);
  command.add_option("--steps", decode.steps, "Timed decode steps (with --decode-context)")
      ->capture_default_str();
  command
      .add_option("--batch", decode.batch,
                  "Sequences decoded together, each step reading the weights once for all")
      ->capture_default_str();
}

// Copies what the prefill and decode options share from the former to the latter.
void Resolve(BenchConfiguration& config) {
  config.bench.load = config.load.Options();
  ParseQueryFlags(config.query, config.bench.reduction);
  config.decode.model_dir = config.bench.model_dir;
  config.decode.image_path = config.bench.image_path;
  config.decode.question = config.bench.question;
  config.decode.prompt_tokens = config.bench.prompt_tokens;
  config.decode.load = config.bench.load;
  config.decode.threads = config.bench.threads;
  config.decode.measure_ceilings = config.bench.measure_ceilings;
  config.decode.max_kv_bytes = config.bench.max_kv_bytes;
}

// `first` with `flags` (bench flags, as on the command line) applied on top.
BenchConfiguration CompareConfiguration(const BenchConfiguration& first, const std::string& flags) {
  BenchConfiguration second = first;
  CLI::App app("the flags of --compare");
  app.set_help_flag();
  AddConfigurationFlags(app, second, /*model_required=*/false);
  try {
    app.parse(flags, /*program_name_included=*/false);
  } catch (const CLI::ParseError& error) {
    Fail("bench: --compare \"", flags, "\": ", error.what());
  }
  Resolve(second);
  Check(second.decodes() == first.decodes(), "bench: --compare \"", flags,
        "\" must keep the first configuration's mode (prefill, --decode-context or "
        "--answer-tokens)");
  return second;
}

}  // namespace

void AddBenchCommand(CLI::App& app) {
  struct CommandOptions {
    BenchConfiguration config;
    std::string compare;
    bool json = false;
  };
  auto options = std::make_shared<CommandOptions>();
  CLI::App* command =
      app.add_subcommand("bench", "Time prefill at several image-token budgets, in one run");
  AddConfigurationFlags(*command, options->config, /*model_required=*/true);
  CLI::Option* compare =
      command
          ->add_option("--compare", options->compare,
                       "Also time a second configuration, this one with FLAGS (any of the flags "
                       "above, quoted as one argument) on top, alternating with it in one run, "
                       "and print their ratio per row")
          ->type_name("\"FLAGS\"");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->callback([options, compare] {
    BenchConfiguration& first = options->config;
    Resolve(first);
    std::optional<BenchConfiguration> second;
    if (compare->count() > 0) second = CompareConfiguration(first, options->compare);
    if (first.decodes()) {
      std::optional<BenchComparison<DecodeBenchOptions>> comparison;
      if (second) comparison = {options->compare, second->decode};
      const DecodeBenchReport report = RunDecodeBench(first.decode, comparison);
      std::cout << (options->json ? DecodeBenchReportJson(report).dump(2) + "\n"
                                  : FormatDecodeBenchReport(report));
      return;
    }
    std::optional<BenchComparison<BenchOptions>> comparison;
    if (second) comparison = {options->compare, second->bench};
    const BenchReport report = RunPrefillBench(first.bench, comparison);
    std::cout << (options->json ? BenchReportJson(report).dump(2) + "\n"
                                : FormatBenchReport(report));
  });
}

}  // namespace lightvlm
