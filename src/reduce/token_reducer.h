// Prefill token reducers: the method (lightvlm, pyramid token merging) and the baselines (fastv,
// pdrop, dart, cdpruner, visionzip, random, uniform, none), each one file in this folder,
// selected by name. A reducer is a
// PrefillHook: the decoder calls it before every layer, and at the layers of its plan it removes
// image tokens (and, for lightvlm, merges them into the kept ones). Text tokens are never
// touched; kept tokens keep their original positions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/prefill_hook.h"

namespace lightvlm {

// The image-token budget, either as the average share of image tokens over all LLM layers
// (`keep`, 1 = no reduction), or as the count left after the last stage (`final_tokens`).
struct ReductionBudget {
  double keep = 1.0;
  int64_t final_tokens = -1;  // -1: use `keep`
};

// Which prompt tokens' attention scores the image tokens (docs/ALGORITHM.md, "Scoring").
enum class QuerySpan {
  kLastTokens,  // the last `query_tokens` prompt tokens
  kQuestion,    // the text after the last image token (the instruction), at most its last
                // `max_question_tokens`
};

// How the scoring rows' attention becomes one score per image token.
enum class QueryWeights {
  kMass,   // probabilities averaged over rows and heads: a row counts as much as it attends to
           // the image (FastV's and PDrop's formula)
  kEqual,  // each row's and head's probabilities over the live image tokens normalized to sum 1,
           // then averaged: every row and head has an equal vote
};

// One reduction: before `layer`, keep `image_tokens` image tokens in all.
struct ReductionStage {
  int64_t layer = 0;
  int64_t image_tokens = 0;
};

struct ReducerOptions {
  ReductionBudget budget;
  QuerySpan query_span = QuerySpan::kQuestion;
  int64_t query_tokens = 1;          // kLastTokens: how many of the last prompt tokens
  int64_t max_question_tokens = 32;  // kQuestion: the cap on the question span
  QueryWeights query_weights = QueryWeights::kEqual;
  uint64_t seed = 0;        // for `random`
  int64_t stages = 4;       // lightvlm: number of merging stages
  int64_t fastv_layer = 2;  // fastv, random, uniform, dart: K, the layer before which they prune
  int64_t dart_image_pivots = 4;  // dart: pivot image tokens, by key norm
  int64_t dart_text_pivots = 4;   // dart: pivot question tokens, by key norm
  double cdpruner_theta = 0.5;    // cdpruner: relevance's weight against diversity, in [0, 1]
  // visionzip: the share of the kept tokens that are contextual (merged) ones, VisionZip's 10/64
  double visionzip_contextual_share = 10.0 / 64;
  // The stages as given (--plan), instead of the plan the reducer makes from the budget: for
  // studying plan shapes at a known share (the report gives the achieved one).
  std::vector<ReductionStage> plan;
};

// A run of image tokens in the prompt: token indices [start, start + height * width).
struct ImageRun {
  int64_t start = 0;
  int64_t grid_height = 0;
  int64_t grid_width = 0;
  // [size()] the vision tower's class-token attention to each token (ImageEmbeddings'
  // vision_saliency); empty when the model gives none.
  std::vector<float> vision_saliency = {};
  int64_t size() const { return grid_height * grid_width; }
};

class TokenReducer : public PrefillHook {
 public:
  // Prepares for one prefill of a prompt with these image runs through `num_layers` layers:
  // fixes the plan (stages and counts) from the budget. Fails on a budget out of range.
  void Begin(const std::vector<ImageRun>& images, int64_t num_layers);

  const std::vector<ReductionStage>& plan() const { return plan_; }
  // Live image tokens at each layer of the last prefill, as planned.
  std::vector<int64_t> ImageTokensPerLayer() const;
  // The average share of image tokens over the layers that the plan gives.
  double AverageKeep() const;

  std::vector<int64_t> ProbeRows(const DecoderTokens& tokens) override;
  std::vector<int64_t> ScoreRows(int64_t layer, const DecoderTokens& tokens) override;
  void BeforeLayer(int64_t layer, DecoderTokens& tokens, const LayerAttention* previous) override;

 protected:
  explicit TokenReducer(const ReducerOptions& options) : options_(options) {}

  // The stages for `image_tokens` image tokens in `num_layers` layers under the budget.
  virtual std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const = 0;
  // Whether the reducer works only on the vision tower's output, before layer 0 (its plans are
  // one stage at layer 0).
  virtual bool ReducesBeforeTheLlmOnly() const { return false; }
  // Whether the stage needs the previous layer's attention (scores and keys).
  virtual bool NeedsAttention() const { return true; }
  // Reduces the image tokens among `tokens` to `keep` of them. `image_rows` are the rows of
  // `tokens` that hold image tokens, ascending; `attention` is null unless NeedsAttention().
  virtual void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
                      const LayerAttention* attention) = 0;

  const ReducerOptions& options() const { return options_; }
  const std::vector<ImageRun>& images() const { return images_; }
  bool IsImageToken(int64_t token_index) const;
  bool HasStageAt(int64_t layer) const;
  // The rows of `tokens` whose attention scores the image tokens (text, never reduced):
  // kLastTokens, the last `query_tokens` rows; kQuestion, the rows after the last image token of
  // the prompt, at most the last `max_question_tokens` of them (the last row if there are none).
  std::vector<int64_t> QueryRows(const DecoderTokens& tokens) const;

 private:
  ReducerOptions options_;
  std::vector<ImageRun> images_;
  int64_t num_layers_ = 0;
  int64_t total_image_tokens_ = 0;
  std::vector<ReductionStage> plan_;
};

// Sets options.query_span and query_tokens from a --query-tokens value: "question" (the question
// span) or a count N >= 1 (the last N prompt tokens); fails naming the flag on anything else.
void ParseQueryTokens(const std::string& value, ReducerOptions& options);
// The --query-tokens value that ParseQueryTokens reads back into `options`' span.
std::string QueryTokensName(const ReducerOptions& options);

// The stages of a --plan value, "LAYER:TOKENS,LAYER:TOKENS,...": layers ascending, counts not
// rising; fails naming the flag and the part it cannot read.
std::vector<ReductionStage> ParsePlan(const std::string& value);

// Sets options.query_weights from a --query-weights value, "mass" or "equal"; fails naming the
// flag on anything else.
void ParseQueryWeights(const std::string& value, ReducerOptions& options);
std::string QueryWeightsName(const ReducerOptions& options);

// The reducer registered under `name` (lightvlm, fastv, pdrop, dart, cdpruner, visionzip, random,
// uniform, none); fails
// listing the names when it is unknown.
std::unique_ptr<TokenReducer> MakeTokenReducer(const std::string& name,
                                               const ReducerOptions& options);
std::vector<std::string> TokenReducerNames();

}  // namespace lightvlm
