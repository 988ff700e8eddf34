// Pieces every reducer uses: scoring image tokens by the attention they receive, choosing the
// top ones, keeping rows, and the budget arithmetic.
#pragma once

#include <cstdint>
#include <vector>

#include "models/prefill_hook.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

// For each of `image_rows`, the attention probability it receives, averaged over heads and over
// the recorded query rows.
std::vector<double> AttentionReceived(const LayerAttention& attention,
                                      const std::vector<int64_t>& image_rows);

// Indices into `scores` of the `count` highest, returned ascending (ties: the earlier wins).
std::vector<int64_t> TopIndices(const std::vector<double>& scores, int64_t count);

// Keeps every text row of `tokens` and, of `image_rows`, those at `kept` (indices into
// image_rows, ascending), in order.
void KeepImageRows(DecoderTokens& tokens, const std::vector<int64_t>& image_rows,
                   const std::vector<int64_t>& kept);

// The share of image tokens averaged over `num_layers` layers when `image_tokens` tokens go
// through the stages of `plan`.
double AverageShare(const std::vector<ReductionStage>& plan, int64_t image_tokens,
                    int64_t num_layers);

// Stages at `layers` keeping cumulative fractions ratio^1, ratio^2, ... of `image_tokens`, with
// `ratio` chosen so that the average share meets `budget` (or the final count does). When the
// first stage is too deep for the budget it moves toward layer 1; the result's average is the
// closest reachable.
std::vector<ReductionStage> GeometricPlan(std::vector<int64_t> layers, int64_t image_tokens,
                                          int64_t num_layers, const ReductionBudget& budget);

}  // namespace lightvlm
