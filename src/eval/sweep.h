// A sweep: every registered reducer at a ladder of budgets on the same encoded items, written as
// a table (CSV, JSON) and two plots (accuracy and prefill time against the image-token share).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "eval/significance.h"

namespace lightvlm {

// Average shares of image tokens over the LLM layers (--keep) that a sweep runs each reducer at;
// 0.35 and 0.03 are the paper's headline points.
inline constexpr std::array<double, 5> kSweepBudgets = {1.0, 0.5, 0.35, 0.11, 0.03};
// Image tokens left after the last stage (--final-tokens) that a sweep runs each reducer at too.
inline constexpr std::array<int64_t, 3> kSweepFinalTokens = {64, 16, 4};

// `none` once at keep 1 (first, so it is the baseline), then every other reducer of
// TokenReducerNames() at each of kSweepBudgets below 1 and at each of kSweepFinalTokens. `none`'s
// run is every reducer's keep-1 run: at keep 1 a reducer plans no stage and its prefill is none's
// (a test holds every reducer to that), so running it again would only repeat `none`. The rest of
// the options from `base`.
std::vector<MethodSpec> SweepMethods(const ReducerOptions& base);

// Writes PREFIX.csv, PREFIX.json (an array, one object per result), PREFIX_significance.csv and
// .json (`comparisons`: say, lightvlm against every other method at each budget,
// eval/significance.h),
// PREFIX_accuracy.svg and PREFIX_prefill.svg, and their PNGs when rsvg-convert is on the PATH.
// The plots are titled with `label` (say, the model and the item count) and draw each method
// against the share of image tokens it achieved (not the one requested), so a budget a method
// cannot reach shows where it landed; dashed lines mark the kSweepBudgets, and the accuracy axis
// spans the results rather than starting at 0. Returns the paths written; fails naming a path it
// cannot write.
std::vector<std::string> WriteSweep(const std::vector<MethodResult>& results,
                                    const std::vector<PairedComparison>& comparisons,
                                    const std::string& prefix, const std::string& label);

}  // namespace lightvlm
