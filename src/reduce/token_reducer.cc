#include "reduce/token_reducer.h"

#include <algorithm>
#include <charconv>

#include "base/error.h"

namespace lightvlm {

void TokenReducer::Begin(const std::vector<ImageRun>& images, int64_t num_layers) {
  const ReductionBudget& budget = options_.budget;
  Check(budget.final_tokens >= -1, "--final-tokens must be >= 0, got ", budget.final_tokens);
  Check(budget.final_tokens >= 0 || (budget.keep > 0 && budget.keep <= 1),
        "--keep must be in (0, 1], got ", budget.keep);
  Check(options_.query_tokens >= 1, "--query-tokens must be at least 1, got ",
        options_.query_tokens);
  Check(options_.max_question_tokens >= 1, "the question span's cap must be at least 1, got ",
        options_.max_question_tokens);
  for (const ImageRun& run : images) {
    Check(run.vision_saliency.empty() ||
              static_cast<int64_t>(run.vision_saliency.size()) == run.size(),
          "the image at token ", run.start, " has ", run.vision_saliency.size(),
          " saliency values for ", run.size(), " tokens");
  }
  images_ = images;
  num_layers_ = num_layers;
  total_image_tokens_ = 0;
  for (const ImageRun& run : images) total_image_tokens_ += run.size();
  Check(budget.final_tokens <= total_image_tokens_, "--final-tokens ", budget.final_tokens,
        " exceeds the ", total_image_tokens_, " image tokens of the prompt");
  plan_ = total_image_tokens_ > 0 ? Plan(total_image_tokens_, num_layers)
                                  : std::vector<ReductionStage>{};
}

std::vector<int64_t> TokenReducer::ImageTokensPerLayer() const {
  std::vector<int64_t> live(num_layers_, total_image_tokens_);
  for (const ReductionStage& stage : plan_) {
    std::fill(live.begin() + stage.layer, live.end(), stage.image_tokens);
  }
  return live;
}

double TokenReducer::AverageKeep() const {
  if (total_image_tokens_ == 0 || num_layers_ == 0) return 1.0;
  double total = 0;
  for (int64_t live : ImageTokensPerLayer()) total += live;
  return total / (static_cast<double>(num_layers_) * total_image_tokens_);
}

bool TokenReducer::IsImageToken(int64_t token_index) const {
  for (const ImageRun& run : images_) {
    if (token_index >= run.start && token_index < run.start + run.size()) return true;
  }
  return false;
}

bool TokenReducer::HasStageAt(int64_t layer) const {
  return std::any_of(plan_.begin(), plan_.end(),
                     [&](const ReductionStage& stage) { return stage.layer == layer; });
}

std::vector<int64_t> TokenReducer::QueryRows(const DecoderTokens& tokens) const {
  int64_t count = options_.query_tokens;
  if (options_.query_span == QuerySpan::kQuestion) {
    // Text is never reduced and rows stay in prompt order, so the tokens after the last image
    // token are the last rows.
    int64_t images_end = 0;
    for (const ImageRun& run : images_) images_end = std::max(images_end, run.start + run.size());
    int64_t question = 0;
    while (question < tokens.size() &&
           tokens.token_index[tokens.size() - 1 - question] >= images_end) {
      ++question;
    }
    count = std::clamp<int64_t>(question, 1, options_.max_question_tokens);
  }
  count = std::min(count, tokens.size());
  std::vector<int64_t> rows(count);
  for (int64_t i = 0; i < count; ++i) rows[i] = tokens.size() - count + i;
  return rows;
}

std::vector<int64_t> TokenReducer::ProbeRows(const DecoderTokens& tokens) {
  return HasStageAt(0) && NeedsAttention() ? QueryRows(tokens) : std::vector<int64_t>{};
}

std::vector<int64_t> TokenReducer::ScoreRows(int64_t layer, const DecoderTokens& tokens) {
  return HasStageAt(layer + 1) && NeedsAttention() ? QueryRows(tokens) : std::vector<int64_t>{};
}

void TokenReducer::BeforeLayer(int64_t layer, DecoderTokens& tokens,
                               const LayerAttention* previous) {
  for (const ReductionStage& stage : plan_) {
    if (stage.layer != layer) continue;
    std::vector<int64_t> image_rows;
    for (int64_t row = 0; row < tokens.size(); ++row) {
      if (IsImageToken(tokens.token_index[row])) image_rows.push_back(row);
    }
    if (static_cast<int64_t>(image_rows.size()) <= stage.image_tokens) continue;
    Check(!NeedsAttention() || previous != nullptr, "reducer: no attention recorded before layer ",
          layer);
    Reduce(tokens, image_rows, stage.image_tokens, previous);
  }
}

void ParseQueryTokens(const std::string& value, ReducerOptions& options) {
  if (value == "question") {
    options.query_span = QuerySpan::kQuestion;
    return;
  }
  int64_t count = 0;
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, count);
  Check(error == std::errc() && stop == end && count >= 1,
        "--query-tokens must be \"question\" or a count of at least 1, got \"", value, "\"");
  options.query_span = QuerySpan::kLastTokens;
  options.query_tokens = count;
}

std::string QueryTokensName(const ReducerOptions& options) {
  return options.query_span == QuerySpan::kQuestion ? "question"
                                                    : std::to_string(options.query_tokens);
}

void ParseQueryWeights(const std::string& value, ReducerOptions& options) {
  Check(value == "mass" || value == "equal",
        "--query-weights must be \"mass\" or \"equal\", got \"", value, "\"");
  options.query_weights = value == "mass" ? QueryWeights::kMass : QueryWeights::kEqual;
}

std::string QueryWeightsName(const ReducerOptions& options) {
  return options.query_weights == QueryWeights::kMass ? "mass" : "equal";
}

}  // namespace lightvlm
