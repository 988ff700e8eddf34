#include "reduce/token_reducer.h"

#include <algorithm>
#include <string_view>

#include "base/error.h"
#include "base/parse_integer.h"

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
  if (total_image_tokens_ == 0) {
    plan_.clear();
  } else if (options_.plan.empty()) {
    plan_ = Plan(total_image_tokens_, num_layers);
  } else {
    for (const ReductionStage& stage : options_.plan) {
      Check(stage.layer < num_layers, "--plan: a stage at layer ", stage.layer,
            ", but the model has ", num_layers, " layers");
      Check(stage.image_tokens <= total_image_tokens_, "--plan: a stage keeps ", stage.image_tokens,
            " image tokens, but the prompt has ", total_image_tokens_);
      Check(!ReducesBeforeTheLlmOnly() || stage.layer == 0,
            "--plan: this reducer works before the LLM only: one stage, at layer 0");
    }
    plan_ = options_.plan;
  }
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

std::vector<ReductionStage> ParsePlan(const std::string& value) {
  std::vector<ReductionStage> plan;
  for (size_t start = 0; start <= value.size();) {
    size_t end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    const std::string_view part(value.data() + start, end - start);
    start = end + 1;
    ReductionStage stage;
    const size_t colon = part.find(':');
    const auto read = [](std::string_view text, int64_t& number) {
      number = ParseInteger(text).value_or(-1);
      return number >= 0;
    };
    Check(colon != std::string_view::npos && read(part.substr(0, colon), stage.layer) &&
              read(part.substr(colon + 1), stage.image_tokens),
          "--plan must be LAYER:TOKENS stages separated by commas, e.g. 4:98,16:24; cannot read \"",
          part, "\"");
    Check(plan.empty() ||
              (stage.layer > plan.back().layer && stage.image_tokens <= plan.back().image_tokens),
          "--plan: stages must go deeper and keep no more tokens than the one before, got \"", part,
          "\" after ", plan.empty() ? 0 : plan.back().layer, ":",
          plan.empty() ? 0 : plan.back().image_tokens);
    plan.push_back(stage);
  }
  return plan;
}

void ParseQueryTokens(const std::string& value, ReducerOptions& options) {
  if (value == "question") {
    options.query_span = QuerySpan::kQuestion;
    return;
  }
  const int64_t count = ParseInteger(value).value_or(0);
  Check(count >= 1, "--query-tokens must be \"question\" or a count of at least 1, got \"", value,
        "\"");
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
