// Evaluation results for machines (JSON, CSV) and people (a table).
//
// JSON, one object per method and budget:
//   method                       reducer name
//   keep, final_tokens           the budget as requested (the unused one is null)
//   items                        items evaluated
//   accuracy                     share answered right, in [0, 1]
//   accuracy_by_kind             {kind: accuracy} over the items that name a kind
//   retention                    accuracy / baseline_accuracy (null without a positive baseline)
//   baseline_accuracy            accuracy of `none` on the same items (null when it did not run)
//   mean_image_tokens_per_layer  live image tokens per LLM layer, mean over layers and items
//   average_keep                 achieved share of image tokens over the layers
//   prefill_ms, prefill_ms_mean  LLM prefill time per item, median and mean (vision excluded)
//   vision_ms                    vision encoder and projector time per image, median
//   plan                         [{layer, image_tokens}], the stages of the first item
//   kv                           the KV cache policy the answers decoded with
//   kv_budget                    its entries per layer after a compression, largest over items
//                                (null for `none`, which never evicts)
//   kv_max_entries               live entries of the fullest layer at the end of any answer
// CSV has the same columns, with accuracy_by_kind as "kind=accuracy;..." and plan as
// "layer:image_tokens;...".
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.h"

namespace lightvlm {

// The budget for people ("0.35", "16 final") and as the JSON values of "keep" and
// "final_tokens" (the unused one null).
std::string BudgetText(const ReductionBudget& budget);
nlohmann::json KeepValue(const ReductionBudget& budget);
nlohmann::json FinalTokensValue(const ReductionBudget& budget);

nlohmann::json ResultJson(const MethodResult& result);
nlohmann::json ResultsJson(const std::vector<MethodResult>& results);  // an array

// A header line and one row per result, then each result's accuracy by kind and plan.
std::string ResultsTable(const std::vector<MethodResult>& results);

std::string ResultsCsv(const std::vector<MethodResult>& results);

}  // namespace lightvlm
