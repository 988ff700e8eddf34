// Pieces every reducer uses: scoring image tokens by the attention they receive, choosing the
// top ones, keeping rows, and the budget arithmetic.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/prefill_hook.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

// For each of `image_rows`, the attention probability it receives, averaged over heads and over
// the recorded query rows; with kEqual, each query row's and head's probabilities over
// `image_rows` are first normalized to sum 1 (a row and head that give them nothing adds 0).
std::vector<double> AttentionReceived(const LayerAttention& attention,
                                      const std::vector<int64_t>& image_rows,
                                      QueryWeights weights = QueryWeights::kMass);

// Indices into `scores` of the `count` highest, returned ascending (ties: the earlier wins).
std::vector<int64_t> TopIndices(const std::vector<double>& scores, int64_t count);

// Keeps every text row of `tokens` and, of `image_rows`, those at `kept` (indices into
// image_rows, ascending), in order.
void KeepImageRows(DecoderTokens& tokens, const std::vector<int64_t>& image_rows,
                   const std::vector<int64_t>& kept);

// Keeps the `keep` of `image_rows` that receive the most attention (AttentionReceived with
// `weights`), dropping the others without merging (FastV, PDrop).
void KeepMostAttended(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
                      const LayerAttention& attention, QueryWeights weights);

// `total` shared over `images` in proportion to their sizes, by largest remainder (the earlier
// image on ties), so that the shares add up to `total` exactly.
std::vector<int64_t> ShareByImageSize(int64_t total, const std::vector<ImageRun>& images);

// The index into `image_rows` of the first token of `run`, whose tokens follow in order; fails,
// naming `reducer`, unless the run is still whole (as it is at a reducer's only stage).
int64_t FirstRowOf(const ImageRun& run, const DecoderTokens& tokens,
                   const std::vector<int64_t>& image_rows, const char* reducer);

// Picks `count` of an image run's tokens: indices into the run, ascending. `first` is the index
// into `image_rows` of the run's first token.
using ImageTokenChooser =
    std::function<std::vector<int64_t>(const ImageRun& run, int64_t first, int64_t count)>;

// The one-stage reducers' loop over the images (each a whole run): `keep` shared over `images`
// (ShareByImageSize), each image's share chosen by `choose`, the other image rows dropped.
// `reducer` names the reducer in errors (FirstRowOf).
void KeepChosenPerImage(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
                        const std::vector<ImageRun>& images, const char* reducer,
                        const ImageTokenChooser& choose);

// Unit-length copies (in double) of `rows` of the row-major matrix `data` of `width` columns; a
// zero row stays zero.
std::vector<std::vector<double>> UnitRows(const float* data, int64_t width,
                                          const std::vector<int64_t>& rows);

double Dot(const std::vector<double>& a, const std::vector<double>& b);

// The share of image tokens averaged over `num_layers` layers when `image_tokens` tokens go
// through the stages of `plan`.
double AverageShare(const std::vector<ReductionStage>& plan, int64_t image_tokens,
                    int64_t num_layers);

// Stage layers at `depth_fractions` of `num_layers` (rounded, at least 1, below num_layers),
// duplicates that shallow models produce dropped: {1/4, 1/2, 3/4} of 32 layers is {8, 16, 24},
// of 2 layers {1}.
std::vector<int64_t> LayersAtDepths(const std::vector<double>& depth_fractions, int64_t num_layers);

// Stages at `layers` keeping cumulative fractions ratio^1, ratio^2, ... of `image_tokens` (each
// count rounded), with `ratio` the largest whose plan does not exceed the average share
// budget.keep (or the ratio whose last stage leaves budget.final_tokens). When the first stage is
// too deep for the budget, all stages move toward layer 1; the result's average is the closest
// reachable.
std::vector<ReductionStage> GeometricPlan(std::vector<int64_t> layers, int64_t image_tokens,
                                          int64_t num_layers, const ReductionBudget& budget);

// The plan of the one-stage reducers (fastv, random, uniform): one stage before `layer` (K,
// lowered to num_layers - 1 on shallower models) keeping R of the image tokens, with
// keep * L = K + (L - K) * R, or R = final_tokens / N. When keep * L < K the stage moves earlier
// (to layer 1 at the least), as in GeometricPlan; below 1 / L it keeps nothing at layer 1.
std::vector<ReductionStage> SingleStagePlan(int64_t layer, int64_t image_tokens, int64_t num_layers,
                                            const ReductionBudget& budget);

}  // namespace lightvlm
