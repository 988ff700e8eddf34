// `lightvlm eval`: accuracy and prefill cost of a token reducer on a JSONL evaluation set, next
// to no reduction; or, with --sweep, of every reducer at a ladder of budgets, with plots. Every
// method decodes under the one KV cache policy of --kv.
#include <filesystem>
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
#include "base/log.h"
#include "base/thread_pool.h"
#include "engine/model.h"
#include "eval/dataset.h"
#include "eval/evaluator.h"
#include "eval/report.h"
#include "eval/significance.h"
#include "eval/sweep.h"
#include "eval/sweep_journal.h"
#include "reduce/token_reducer.h"

namespace lightvlm {
namespace {

struct EvalOptions {
  std::string model_dir;
  std::string data_path;
  ReducerFlags reducer;
  KvPolicySpec kv;
  LoadFlags load;
  int64_t max_kv_bytes = kDefaultMaxKvBytes;
  bool no_baseline = false;
  int64_t limit = 0;  // 0: every item
  int64_t max_new_tokens = 8;
  int threads = 0;
  bool json = false;
  bool sweep = false;
  bool resume = false;
  bool from_journal = false;
  std::string out_prefix;
  bool verbose = false;
};

// The methods of a single evaluation: `none` first as the baseline, unless asked otherwise.
std::vector<MethodSpec> SingleMethods(const EvalOptions& options) {
  std::vector<MethodSpec> methods;
  const ReducerFlags& reducer = options.reducer;
  if (reducer.name != "none" && !options.no_baseline) {
    ReducerOptions full = reducer.options;
    full.budget = {.keep = 1.0, .final_tokens = -1};
    methods.push_back({"none", full});
  }
  methods.push_back({reducer.name, reducer.options});
  return methods;
}

// What a sweep's runs depend on besides the items, as its journal records it: a journal written
// with other values is not resumed.
nlohmann::json SweepSetup(const EvalOptions& options) {
  const ReducerOptions& reducer = options.reducer.options;
  return {{"model", options.model_dir},
          {"data", options.data_path},
          {"dtype", options.load.weight_dtype},
          {"max_tiles", options.load.max_tiles},
          {"min_pixels", options.load.min_pixels},
          {"max_pixels", options.load.max_pixels},
          {"max_new_tokens", options.max_new_tokens},
          {"kv", options.kv.name},
          {"kv_budget", options.kv.options.budget},
          {"kv_sinks", options.kv.options.sinks},
          {"kv_window", options.kv.options.window},
          {"kv_interval", options.kv.options.interval},
          {"kv_pool", options.kv.options.pool},
          {"query_span", static_cast<int>(reducer.query_span)},
          {"query_tokens", reducer.query_tokens},
          {"max_question_tokens", reducer.max_question_tokens},
          {"query_weights", QueryWeightsName(reducer)},
          {"seed", reducer.seed},
          {"stages", reducer.stages},
          {"fastv_layer", reducer.fastv_layer},
          {"dart_image_pivots", reducer.dart_image_pivots},
          {"dart_text_pivots", reducer.dart_text_pivots},
          {"cdpruner_theta", reducer.cdpruner_theta},
          {"visionzip_contextual_share", reducer.visionzip_contextual_share}};
}

// The journal's mode for these options.
JournalMode JournalModeOf(const EvalOptions& options) {
  if (options.from_journal) return JournalMode::kRead;
  return options.resume ? JournalMode::kResume : JournalMode::kStart;
}

void Evaluate(const EvalOptions& options) {
  SetVerbose(options.verbose);
  Check(!options.sweep || !options.out_prefix.empty(), "--sweep needs --out PREFIX");
  Check(options.limit >= 0, "--limit must not be negative, got ", options.limit);
  MakeKvPolicy(options.kv.name, options.kv.options);  // bad --kv options fail before encoding
  std::vector<EvalItem> items = LoadDataset(options.data_path);
  if (options.limit > 0 && options.limit < static_cast<int64_t>(items.size())) {
    items.resize(options.limit);
  }
  const std::vector<MethodSpec> methods =
      options.sweep ? SweepMethods(options.reducer.options) : SingleMethods(options);
  std::optional<SweepJournal> journal;
  if (options.sweep) {
    journal.emplace(options.out_prefix + "_runs.jsonl", SweepSetup(options), items,
                    JournalModeOf(options));
  }
  std::vector<MethodResult> results;
  const size_t item_count = items.size();
  if (options.from_journal) {
    // The files of a sweep in progress or cut short: no model is loaded, nothing runs.
    results = RecordedMethods(methods, *journal);
  } else {
    const Model model = LoadModel(options.model_dir, options.load.Options());
    CheckAnswerKvCache(model, options.max_kv_bytes);
    ThreadPool pool(options.threads);
    const EncodedDataset data = EncodeDataset(model, pool, std::move(items));
    results = EvaluateMethods(model, pool, data, methods, options.max_new_tokens, options.kv,
                              journal ? &*journal : nullptr);
  }

  if (options.sweep) {
    // The plots name the model as the user gave it (its folder alone is often just "model").
    std::filesystem::path model_path = std::filesystem::path(options.model_dir).lexically_normal();
    if (!model_path.has_filename()) model_path = model_path.parent_path();
    const std::string label = model_path.string() + ", " + std::to_string(item_count) + " items";
    const std::vector<PairedComparison> comparisons = CompareWithOthers(results, "lightvlm");
    std::vector<std::string> written = WriteSweep(results, comparisons, options.out_prefix, label);
    if (!options.from_journal) written.push_back(journal->path());
    if (options.json) {
      std::cout << ResultsJson(results).dump(2) << '\n';
      return;
    }
    std::cout << ResultsTable(results) << ComparisonsTable(comparisons);
    for (const std::string& path : written) std::cout << "wrote " << path << '\n';
  } else if (options.json) {
    std::cout << ResultJson(results.back()).dump(2) << '\n';
  } else {
    std::cout << ResultsTable(results);
  }
}

}  // namespace

void AddEvalCommand(CLI::App& app) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* eval = app.add_subcommand(
      "eval", "Accuracy and prefill time of token reduction on a JSONL evaluation set");
  AddModelFlag(*eval, options->model_dir);
  eval->add_option("--data", options->data_path,
                   "JSONL file, one item a line: image, question, answer, optional kind and "
                   "choices")
      ->required();
  AddReducerFlags(*eval, options->reducer);
  AddKvPolicyFlags(*eval, options->kv.name, options->kv.options);
  CLI::Option* no_baseline = eval->add_flag("--no-baseline", options->no_baseline,
                                            "Do not also run `none` to measure retention");
  eval->add_option("--limit", options->limit, "Evaluate only the first N items (0: every item)")
      ->capture_default_str();
  eval->add_option("-n,--max-tokens", options->max_new_tokens, "Most tokens of each answer")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddLoadFlags(*eval, options->load);
  AddThreadsFlag(*eval, options->threads);
  AddMaxKvBytesFlag(*eval, options->max_kv_bytes);
  eval->add_flag("--json", options->json, "Print JSON instead of a table");
  CLI::Option* sweep =
      eval->add_flag("--sweep", options->sweep,
                     "Every reducer at keep 1, 0.5, 0.35, 0.11, 0.03 and final tokens 64, 16, 4; "
                     "writes --out PREFIX.csv, .json, _significance.csv, _significance.json "
                     "(exact McNemar tests of lightvlm against the others), _accuracy.svg, "
                     "_prefill.svg and _runs.jsonl (the journal --resume reads)")
          ->excludes(eval->get_option("--reduce"))
          ->excludes(eval->get_option("--keep"))
          ->excludes(eval->get_option("--final-tokens"))
          ->excludes(eval->get_option("--plan"))
          ->excludes(no_baseline);
  eval->add_option("--out", options->out_prefix, "Path prefix of the --sweep files")->needs(sweep);
  eval->add_flag("--resume", options->resume,
                 "Keep the runs that PREFIX_runs.jsonl (every sweep writes it as each run "
                 "finishes) holds from a sweep with the same model, items and options, and run "
                 "only the rest")
      ->needs(sweep);
  eval->add_flag("--from-journal", options->from_journal,
                 "Write the --sweep files from the runs PREFIX_runs.jsonl holds, loading no model "
                 "and running nothing: the results so far of a sweep in progress or cut short")
      ->needs(sweep)
      ->excludes(eval->get_option("--resume"));
  eval->add_flag("-v,--verbose", options->verbose, "Each item's answer on stderr");
  eval->callback([options] {
    options->reducer.Parse();
    Evaluate(*options);
  });
}

}  // namespace lightvlm
