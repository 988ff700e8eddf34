// Paired significance of accuracy differences: the exact McNemar test of one method against each
// other method run at the same budget on the same items, so that a gap of a point or two on a few
// hundred items is not read as a win.
//
// JSON, one object per pair (CSV has the same columns):
//   method, other                  the method tested and the one it is compared with
//   keep, final_tokens             the budget both ran at, as requested (the unused one is null);
//                                  `none` runs only at keep 1 and is compared at every budget
//   items                          items both answered
//   method_accuracy, other_accuracy
//   only_method_right              items the method answered right and the other wrong
//   only_other_right               the reverse
//   p_value                        two-sided exact McNemar p (binomial on the discordant items)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.h"

namespace lightvlm {

// Two-sided exact McNemar p-value of `b` and `c` discordant items: twice the probability of a
// split at least as uneven under Binomial(b + c, 1/2), at most 1; 1 when there are none.
double ExactMcNemarPValue(int64_t b, int64_t c);

struct PairedComparison {
  std::string method;
  std::string other;
  ReductionBudget budget;  // of `method`
  int64_t items = 0;
  double method_accuracy = 0;
  double other_accuracy = 0;
  int64_t only_method_right = 0;
  int64_t only_other_right = 0;
  double p_value = 1;
};

// `method` at each of its budgets against every other method at the same requested budget, and
// against `none` (whatever its budget): one comparison per pair, in the order of `results`. Fails
// when two compared results answered different numbers of items.
std::vector<PairedComparison> CompareWithOthers(const std::vector<MethodResult>& results,
                                                const std::string& method);

nlohmann::json ComparisonsJson(const std::vector<PairedComparison>& comparisons);  // an array
std::string ComparisonsCsv(const std::vector<PairedComparison>& comparisons);
// One line per comparison, for people.
std::string ComparisonsTable(const std::vector<PairedComparison>& comparisons);

}  // namespace lightvlm
