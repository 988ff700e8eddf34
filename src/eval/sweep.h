// A sweep: every registered reducer at a ladder of budgets on the same encoded items, written as
// a table (CSV, JSON) and two plots (accuracy and prefill time against the image-token share).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "eval/evaluator.h"

namespace lightvlm {

// Average shares of image tokens over the LLM layers (--keep) that a sweep runs each reducer at;
// 0.35 and 0.03 are the paper's headline points.
inline constexpr std::array<double, 5> kSweepBudgets = {1.0, 0.5, 0.35, 0.11, 0.03};

// `none` once at keep 1 (first, so it is the baseline), then every other reducer of
// TokenReducerNames() at each of kSweepBudgets; the rest of the options from `base`.
std::vector<MethodSpec> SweepMethods(const ReducerOptions& base);

// Writes PREFIX.csv, PREFIX.json (an array, one object per result), PREFIX_accuracy.svg and
// PREFIX_prefill.svg, and their PNGs when rsvg-convert is on the PATH. The plots draw each method
// against the share of image tokens it achieved (not the one requested), so a budget a method
// cannot reach shows where it landed. Returns the paths written; fails naming a path it cannot
// write.
std::vector<std::string> WriteSweep(const std::vector<MethodResult>& results,
                                    const std::string& prefix);

}  // namespace lightvlm
