#include "eval/evaluator.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <map>
#include <numeric>
#include <span>
#include <utility>

#include "base/clock.h"
#include "base/log.h"
#include "base/progress.h"
#include "engine/session.h"
#include "eval/answer_match.h"
#include "eval/median.h"
#include "eval/sweep_journal.h"
#include "models/kv_cache_limit.h"

namespace lightvlm {
namespace {

// Tokens each answer's KV cache may hold (in the default KV dtype).
int64_t AnswerContext(const Model& model) { return model.config().max_position_embeddings; }

double Mean(const std::vector<double>& values) {
  return values.empty() ? 0 : std::accumulate(values.begin(), values.end(), 0.0) / values.size();
}

// What answering one item left behind, beside the generation itself.
struct AnsweredItem {
  GenerationResult generation;
  int64_t length = 0;              // the sequence's tokens at the end
  int64_t most_layer_entries = 0;  // live cache entries of the fullest layer at the end
};

// A fresh session generating greedily the answer to item `index`, under `kv_policy` when given.
AnsweredItem Answer(const Model& model, ThreadPool& pool, const EncodedDataset& data, size_t index,
                    TokenReducer* reducer, KvPolicy* kv_policy, int64_t max_new_tokens) {
  // MakePrompt, as every command builds its prompts: the family's image markers (SmolVLM's and
  // InternVL's wrappers) and positions (Qwen2-VL's M-RoPE) are part of the question's prompt.
  const Prompt prompt = MakePrompt(model, QuestionText(data.items[index]),
                                   std::span(&data.images[data.image_of_item[index]], 1));
  Session session(model.decoder(), pool, AnswerContext(model));
  session.SetTokenReducer(reducer);
  session.SetKvPolicy(kv_policy);
  GenerationOptions generation;
  generation.max_new_tokens = max_new_tokens;
  generation.stop_token_ids = model.stop_token_ids;
  AnsweredItem answered;
  answered.generation = session.Generate(prompt, generation, [](int32_t) { return true; });
  answered.length = session.length();
  const KvCache& cache = session.cache();
  for (int64_t l = 0; l < cache.num_layers(); ++l) {
    answered.most_layer_entries = std::max(answered.most_layer_entries, cache.layer(l).size());
  }
  return answered;
}

constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

std::string BudgetName(const ReductionBudget& budget) {
  return budget.final_tokens >= 0 ? StrCat("final tokens ", budget.final_tokens)
                                  : StrCat("keep ", budget.keep);
}

MethodResult EvaluateMethod(const Model& model, ThreadPool& pool, const EncodedDataset& data,
                            const MethodSpec& spec, int64_t max_new_tokens,
                            const std::optional<KvPolicySpec>& kv, Progress& progress) {
  const auto reducer = MakeTokenReducer(spec.method, spec.options);
  MethodResult result;
  result.method = spec.method;
  if (kv) result.kv_policy = kv->name;
  result.budget = spec.options.budget;
  result.items = static_cast<int64_t>(data.items.size());
  result.vision_ms = data.vision_ms;
  std::vector<double> prefill_ms;
  std::map<std::string, std::pair<int64_t, int64_t>> right_of_kind;  // kind -> (right, items)
  int64_t right = 0;
  double image_tokens_per_layer = 0, average_keep = 0;
  for (size_t i = 0; i < data.items.size(); ++i) {
    const EvalItem& item = data.items[i];
    const auto kv_policy = kv ? MakeKvPolicy(kv->name, kv->options) : nullptr;
    const AnsweredItem answered =
        Answer(model, pool, data, i, reducer.get(), kv_policy.get(), max_new_tokens);
    const GenerationResult& answer = answered.generation;
    const std::string prediction = model.tokenizer->Decode(answer.tokens, /*skip_special=*/true);
    const bool correct = IsCorrectAnswer(prediction, item);
    LogVerbose("eval: ", spec.method, " ", BudgetName(result.budget), ", item ", i + 1, ": \"",
               prediction, "\" (expected \"", item.answer, "\") ", correct ? "right" : "wrong",
               ", prefill ", answer.prefill_ms, " ms");
    result.predictions.push_back(prediction);
    result.correct.push_back(correct);
    right += correct;
    if (!item.kind.empty()) {
      right_of_kind[item.kind].first += correct;
      right_of_kind[item.kind].second += 1;
    }
    prefill_ms.push_back(answer.prefill_ms);
    const std::vector<int64_t> live = reducer->ImageTokensPerLayer();
    image_tokens_per_layer += Mean(std::vector<double>(live.begin(), live.end()));
    average_keep += reducer->AverageKeep();
    if (i == 0) result.plan = reducer->plan();
    result.kv_max_entries = std::max(result.kv_max_entries, answered.most_layer_entries);
    // `none` never evicts: its budget is unbounded, not a number to report.
    const int64_t kv_budget = kv_policy ? kv_policy->Budget(answered.length) : kUnbounded;
    if (kv_budget != kUnbounded) {
      result.kv_budget = std::max(result.kv_budget.value_or(0), kv_budget);
    }
    progress.Advance();
  }
  const double items = static_cast<double>(data.items.size());
  result.accuracy = right / items;
  for (const auto& [kind, counts] : right_of_kind) {
    result.accuracy_by_kind[kind] = static_cast<double>(counts.first) / counts.second;
  }
  result.mean_image_tokens_per_layer = image_tokens_per_layer / items;
  result.average_keep = average_keep / items;
  result.prefill_ms_median = Median(prefill_ms);
  result.prefill_ms_mean = Mean(prefill_ms);
  return result;
}

}  // namespace

void CheckAnswerKvCache(const Model& model, int64_t max_kv_bytes) {
  CheckKvCacheBytes(model.config(), AnswerContext(model), 1, kDefaultKvDType, max_kv_bytes,
                    "config.json's max_position_embeddings", "");
}

EncodedDataset EncodeDataset(const Model& model, ThreadPool& pool, std::vector<EvalItem> items,
                             const ImageLimits& image_limits) {
  Check(model.language_model->image_token_id() >= 0, model.path,
        ": the model takes no images, so it cannot answer an evaluation set");
  EncodedDataset data;
  std::map<std::string, size_t> image_of_path;
  std::vector<double> vision_ms;
  Progress progress("encoding images", static_cast<int64_t>(items.size()));
  for (const EvalItem& item : items) {
    auto [found, inserted] = image_of_path.try_emplace(item.image_path, data.images.size());
    if (inserted) {
      const Image image = LoadImage(item.image_path, image_limits);
      const auto start = Clock::now();
      data.images.push_back(model.language_model->EncodeImage(pool, image));
      vision_ms.push_back(MillisecondsSince(start));
    }
    data.image_of_item.push_back(found->second);
    progress.Advance();
  }
  data.items = std::move(items);
  data.vision_ms = Median(vision_ms);
  return data;
}

namespace {

// When a `none` run is among `results`, its accuracy is every result's baseline.
void SetBaseline(std::vector<MethodResult>& results) {
  const auto baseline = std::find_if(results.begin(), results.end(),
                                     [](const MethodResult& r) { return r.method == "none"; });
  if (baseline == results.end()) return;
  const double baseline_accuracy = baseline->accuracy;
  for (MethodResult& result : results) {
    result.baseline_accuracy = baseline_accuracy;
    if (baseline_accuracy > 0) result.retention = result.accuracy / baseline_accuracy;
  }
}

}  // namespace

std::vector<MethodResult> EvaluateMethods(const Model& model, ThreadPool& pool,
                                          const EncodedDataset& data,
                                          const std::vector<MethodSpec>& methods,
                                          int64_t max_new_tokens,
                                          const std::optional<KvPolicySpec>& kv,
                                          SweepJournal* journal) {
  Check(!data.items.empty(), "eval: no items to evaluate");
  // The first prefills of a process run slower (fresh activation and cache memory is faulted in,
  // caches are cold); untimed ones first keep that out of whichever method runs first.
  constexpr size_t kWarmUpPrefills = 3;
  for (size_t i = 0; i < kWarmUpPrefills; ++i) {
    Answer(model, pool, data, i % data.items.size(), nullptr, nullptr, 1);
  }
  // A sweep runs for hours: a method this model cannot run (visionzip without the vision
  // tower's attention) is found on the first item now and left out, said on stderr, instead of
  // failing the sweep when its turn comes.
  std::vector<const MethodSpec*> runnable;
  for (const MethodSpec& spec : methods) {
    if (journal && !journal->Find(spec)) {
      try {
        const auto reducer = MakeTokenReducer(spec.method, spec.options);
        Answer(model, pool, data, 0, reducer.get(), nullptr, 1);
      } catch (const Error& error) {
        std::cerr << "lightvlm: eval: " << spec.method << " at " << BudgetName(spec.options.budget)
                  << " is left out of the sweep: " << error.what() << '\n';
        continue;
      }
    }
    runnable.push_back(&spec);
  }
  std::vector<MethodResult> results;
  Progress progress("eval", static_cast<int64_t>(runnable.size() * data.items.size()));
  for (const MethodSpec* spec_pointer : runnable) {
    const MethodSpec& spec = *spec_pointer;
    std::optional<MethodResult> recorded = journal ? journal->Find(spec) : std::nullopt;
    if (recorded) {
      results.push_back(std::move(*recorded));
      progress.Advance(static_cast<int64_t>(data.items.size()));
      continue;
    }
    results.push_back(EvaluateMethod(model, pool, data, spec, max_new_tokens, kv, progress));
    if (journal) journal->Record(results.back());
  }
  SetBaseline(results);
  return results;
}

std::vector<MethodResult> RecordedMethods(const std::vector<MethodSpec>& methods,
                                          const SweepJournal& journal) {
  std::vector<MethodResult> results;
  for (const MethodSpec& spec : methods) {
    std::optional<MethodResult> recorded = journal.Find(spec);
    if (recorded) results.push_back(std::move(*recorded));
  }
  Check(!results.empty() && results.front().method == "none", journal.path(),
        ": holds no finished run of `none`, the baseline");
  SetBaseline(results);
  return results;
}

bool IsCorrectAnswer(const std::string& prediction, const EvalItem& item) {
  return item.multiple_choice() ? ChosenLetter(prediction, item.choices) == item.answer
                                : OpenAnswerMatches(prediction, item.answer);
}

}  // namespace lightvlm
