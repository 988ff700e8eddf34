// Accuracy and prefill cost of token reducers on an evaluation set. Every image goes through the
// vision encoder once; then each method answers every item greedily in a fresh session, so the
// methods differ only in the reducer the LLM prefill runs with. All of them decode under the same
// KV cache policy, so prefill merging and KV compression can be measured together.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/model.h"
#include "eval/dataset.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

class SweepJournal;

// The items with their images encoded, ready for any number of runs.
struct EncodedDataset {
  std::vector<EvalItem> items;
  std::vector<ImageEmbeddings> images;  // one per distinct image file
  std::vector<size_t> image_of_item;    // [items] index into `images`
  double vision_ms = 0;                 // median time of the vision encoder and projector per image
};

// Loads and encodes the image of every item (once per file). Image errors name the file.
EncodedDataset EncodeDataset(const Model& model, ThreadPool& pool, std::vector<EvalItem> items,
                             const ImageLimits& image_limits = {});

// One reducer at one budget.
struct MethodSpec {
  std::string method;  // a name of TokenReducerNames()
  ReducerOptions options;
};

// The KV cache policy every answer decodes with.
struct KvPolicySpec {
  std::string name = "none";  // a name of KvPolicyNames()
  KvPolicyOptions options;
};

struct MethodResult {
  std::string method;
  ReductionBudget budget;  // as requested
  int64_t items = 0;
  double accuracy = 0;
  std::map<std::string, double> accuracy_by_kind;  // over the items that name a kind
  std::optional<double> baseline_accuracy;         // of `none` on the same items, when it ran
  std::optional<double> retention;  // accuracy / baseline_accuracy, when that is positive
  // Live image tokens per LLM layer, averaged over layers and items, as the reducer planned them.
  double mean_image_tokens_per_layer = 0;
  double average_keep = 0;       // achieved share of image tokens over the layers, mean over items
  double prefill_ms_median = 0;  // LLM prefill only; the vision encoder is in vision_ms
  double prefill_ms_mean = 0;
  double vision_ms = 0;
  // The stages of the first item's prefill (items with as many image tokens share it).
  std::vector<ReductionStage> plan;
  std::string kv_policy = "none";  // the KV policy the answers decoded with
  // Its entries per layer after a compression, the largest over items (it may depend on the
  // prompt); none when the policy never evicts.
  std::optional<int64_t> kv_budget;
  // The most live entries of any layer at the end of any answer: within kv_budget when the policy
  // compresses after every step, up to interval - 1 entries over it otherwise.
  int64_t kv_max_entries = 0;
  std::vector<std::string> predictions;  // [items] the decoded answers
  std::vector<bool> correct;             // [items]
};

// Runs every method of `methods` on every item, in order, generating up to `max_new_tokens` per
// answer greedily, each answer under a fresh policy of `kv` (scores must not carry over between
// items). Without `kv` the sessions have no policy at all. A few untimed prefills first warm the
// machine up, so that no method pays for coming first. When a `none` method is among them, its
// accuracy is every result's baseline. With a `journal`, a method it holds is taken from it
// instead of run, and every method run is recorded in it as soon as it finishes; a method the
// model cannot run (tried on the first item first) is left out, saying why on stderr.
std::vector<MethodResult> EvaluateMethods(const Model& model, ThreadPool& pool,
                                          const EncodedDataset& data,
                                          const std::vector<MethodSpec>& methods,
                                          int64_t max_new_tokens,
                                          const std::optional<KvPolicySpec>& kv = std::nullopt,
                                          SweepJournal* journal = nullptr);

// The runs of `methods` that `journal` holds, in the order of `methods`, with `none`'s accuracy
// as their baseline: a sweep's results without running anything (eval --from-journal). Fails
// when the journal holds no `none` run.
std::vector<MethodResult> RecordedMethods(const std::vector<MethodSpec>& methods,
                                          const SweepJournal& journal);

// Fails when the KV cache every answer is given (max_position_embeddings tokens, which it fills
// only as far as its prompt and answer go) could, full, hold more than `max_kv_bytes`.
void CheckAnswerKvCache(const Model& model, int64_t max_kv_bytes);

// Whether `prediction` answers `item`: its chosen letter for multiple choice, else an exact
// match after normalisation.
bool IsCorrectAnswer(const std::string& prediction, const EvalItem& item);

}  // namespace lightvlm
