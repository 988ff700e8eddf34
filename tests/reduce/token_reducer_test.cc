// The TokenReducer base: the plan from Begin, which rows are scored and when, how BeforeLayer
// finds the image rows, budget validation, the registry, and every registered reducer running
// inside the real decoder with ragged per-layer caches.
#include "reduce/token_reducer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"
#include "reduce/reducer_harness.h"
#include "reduce/reduction_util.h"
#include "reduce/tiny_llava.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;

// A reducer with a fixed plan that records what BeforeLayer hands it and keeps the first `keep`
// image rows.
class FixedPlanReducer : public TokenReducer {
 public:
  FixedPlanReducer(std::vector<ReductionStage> plan, bool needs_attention,
                   const ReducerOptions& options = {})
      : TokenReducer(options), fixed_plan_(std::move(plan)), needs_attention_(needs_attention) {}

  struct Call {
    std::vector<int64_t> image_rows;
    int64_t keep;
    const LayerAttention* attention;
  };
  std::vector<Call> calls;
  mutable int plans_made = 0;

 protected:
  std::vector<ReductionStage> Plan(int64_t, int64_t) const override {
    ++plans_made;
    return fixed_plan_;
  }
  bool NeedsAttention() const override { return needs_attention_; }
  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* attention) override {
    calls.push_back({image_rows, keep, attention});
    std::vector<int64_t> first(keep);
    std::iota(first.begin(), first.end(), 0);
    KeepImageRows(tokens, image_rows, first);
  }

 private:
  std::vector<ReductionStage> fixed_plan_;
  bool needs_attention_;
};

TEST(TokenReducerTest, BeginFixesThePlanAndItsPerLayerCounts) {
  FixedPlanReducer reducer({{2, 20}, {5, 4}}, true);
  reducer.Begin({{5, 6, 6}}, 8);
  EXPECT_EQ(reducer.plan().size(), 2u);
  EXPECT_EQ(reducer.ImageTokensPerLayer(), (std::vector<int64_t>{36, 36, 20, 20, 20, 4, 4, 4}));
  EXPECT_DOUBLE_EQ(reducer.AverageKeep(), (2 * 36 + 3 * 20 + 3 * 4) / (8.0 * 36));
}

TEST(TokenReducerTest, APromptWithoutImagesGetsNoPlan) {
  FixedPlanReducer reducer({{2, 20}}, true);
  reducer.Begin({}, 8);
  EXPECT_EQ(reducer.plans_made, 0);
  EXPECT_TRUE(reducer.plan().empty());
  EXPECT_DOUBLE_EQ(reducer.AverageKeep(), 1.0);
}

TEST(TokenReducerTest, ScoresTheLastPromptRowsOnlyBeforeAStage) {
  ReducerOptions options;
  options.query_span = QuerySpan::kLastTokens;
  options.query_tokens = 3;
  FixedPlanReducer reducer({{2, 20}, {5, 4}}, true, options);
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  reducer.Begin(prompt.images, 8);
  for (int64_t layer = 0; layer < 8; ++layer) {
    const std::vector<int64_t> rows = reducer.ScoreRows(layer, prompt.tokens);
    if (layer == 1 || layer == 4) {
      EXPECT_EQ(rows, (std::vector<int64_t>{42, 43, 44})) << "layer " << layer;
    } else {
      EXPECT_TRUE(rows.empty()) << "layer " << layer;
    }
  }
  FixedPlanReducer no_attention({{2, 20}}, false, options);
  no_attention.Begin(prompt.images, 8);
  EXPECT_TRUE(no_attention.ScoreRows(1, prompt.tokens).empty());
}

ReducerOptions QuestionOptions(int64_t cap = 32) {
  ReducerOptions options;
  options.query_span = QuerySpan::kQuestion;
  options.query_tokens = 7;  // ignored by the question span
  options.max_question_tokens = cap;
  return options;
}

std::vector<int64_t> Range(int64_t begin, int64_t end) {
  std::vector<int64_t> rows(end - begin);
  std::iota(rows.begin(), rows.end(), begin);
  return rows;
}

TEST(TokenReducerTest, TheQuestionSpanIsTheTextAfterTheLastImage) {
  // 5 text, 36 image (rows 5..40), 4 text (rows 41..44).
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  FixedPlanReducer reducer({{0, 20}, {2, 4}}, true, QuestionOptions());
  reducer.Begin(prompt.images, 4);
  EXPECT_EQ(reducer.ProbeRows(prompt.tokens), Range(41, 45));
  EXPECT_EQ(reducer.ScoreRows(1, prompt.tokens), Range(41, 45));
  EXPECT_TRUE(reducer.ScoreRows(0, prompt.tokens).empty());

  // Two images with text between them: only the text after the second counts.
  testing::SyntheticPrompt two =
      testing::MakePrompt({testing::Text(2), testing::Image(2, 2), testing::Text(3),
                           testing::Image(1, 3), testing::Text(2)});
  FixedPlanReducer second({{1, 3}}, true, QuestionOptions());
  second.Begin(two.images, 4);
  EXPECT_EQ(second.ScoreRows(0, two.tokens), Range(12, 14));
}

TEST(TokenReducerTest, TheQuestionSpanIsCappedToItsLastTokens) {
  testing::SyntheticPrompt prompt =
      testing::MakePrompt({testing::Text(3), testing::Image(2, 2), testing::Text(40)});
  FixedPlanReducer capped({{1, 2}}, true, QuestionOptions(32));
  capped.Begin(prompt.images, 4);
  EXPECT_EQ(capped.ScoreRows(0, prompt.tokens), Range(15, 47));
  FixedPlanReducer two({{1, 2}}, true, QuestionOptions(2));
  two.Begin(prompt.images, 4);
  EXPECT_EQ(two.ScoreRows(0, prompt.tokens), Range(45, 47));
  FixedPlanReducer zero({{1, 2}}, true, QuestionOptions(0));
  EXPECT_THROW(zero.Begin(prompt.images, 4), Error);
}

TEST(TokenReducerTest, TheQuestionSpanFollowsTheRowsAfterAStage) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  FixedPlanReducer reducer({{1, 20}, {3, 4}}, true, QuestionOptions());
  reducer.Begin(prompt.images, 4);
  LayerAttention attention;
  reducer.BeforeLayer(1, prompt.tokens, &attention);
  ASSERT_EQ(prompt.tokens.size(), 5 + 20 + 4);
  // Rows renumber after the stage; the question is still the last 4 rows (token indices 41..44).
  const std::vector<int64_t> rows = reducer.ScoreRows(2, prompt.tokens);
  EXPECT_EQ(rows, Range(25, 29));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(prompt.tokens.token_index[rows[i]], 41 + static_cast<int64_t>(i));
  }
}

TEST(TokenReducerTest, TheDefaultScoringIsTheQuestionSpanWithEqualVotes) {
  const ReducerOptions options;
  EXPECT_EQ(options.query_span, QuerySpan::kQuestion);
  EXPECT_EQ(options.max_question_tokens, 32);
  EXPECT_EQ(options.query_weights, QueryWeights::kEqual);
  EXPECT_EQ(QueryTokensName(options), "question");
  EXPECT_EQ(QueryWeightsName(options), "equal");
}

TEST(TokenReducerTest, QueryTokensParsesQuestionOrACount) {
  ReducerOptions options;
  ParseQueryTokens("question", options);
  EXPECT_EQ(options.query_span, QuerySpan::kQuestion);
  EXPECT_EQ(QueryTokensName(options), "question");
  ParseQueryTokens("8", options);
  EXPECT_EQ(options.query_span, QuerySpan::kLastTokens);
  EXPECT_EQ(options.query_tokens, 8);
  EXPECT_EQ(QueryTokensName(options), "8");
  for (const std::string bad : {"0", "-1", "", "8x", "questions", "Question", " 8", "1.5"}) {
    ReducerOptions untouched = options;
    try {
      ParseQueryTokens(bad, untouched);
      FAIL() << "expected an error for '" << bad << "'";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("--query-tokens"), std::string::npos) << message;
      EXPECT_NE(message.find("question"), std::string::npos) << message;
      EXPECT_NE(message.find("\"" + bad + "\""), std::string::npos) << message;
    }
  }
}

TEST(TokenReducerTest, QueryWeightsParsesMassOrEqual) {
  ReducerOptions options;
  ParseQueryWeights("mass", options);
  EXPECT_EQ(options.query_weights, QueryWeights::kMass);
  EXPECT_EQ(QueryWeightsName(options), "mass");
  ParseQueryWeights("equal", options);
  EXPECT_EQ(options.query_weights, QueryWeights::kEqual);
  EXPECT_EQ(QueryWeightsName(options), "equal");
  try {
    ParseQueryWeights("sum", options);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what())
                  .find("--query-weights must be \"mass\" or \"equal\", got "
                        "\"sum\""),
              std::string::npos)
        << error.what();
  }
}

TEST(TokenReducerTest, BeforeLayerHandsOverTheImageRowsOfEveryImageAscending) {
  FixedPlanReducer reducer({{1, 5}, {3, 2}}, true);
  testing::SyntheticPrompt prompt =
      testing::MakePrompt({testing::Text(2), testing::Image(2, 2), testing::Text(1),
                           testing::Image(1, 3), testing::Text(2)});
  testing::RunReducer(reducer, prompt, 4);
  ASSERT_EQ(reducer.calls.size(), 2u);
  EXPECT_EQ(reducer.calls[0].image_rows, (std::vector<int64_t>{2, 3, 4, 5, 7, 8, 9}));
  EXPECT_EQ(reducer.calls[0].keep, 5);
  ASSERT_NE(reducer.calls[0].attention, nullptr);
  // The first 5 image tokens (2..5 and 7) are left; rows renumber, token indices do not.
  EXPECT_EQ(reducer.calls[1].image_rows, (std::vector<int64_t>{2, 3, 4, 5, 7}));
  EXPECT_EQ(reducer.calls[1].keep, 2);
  EXPECT_EQ(testing::LiveImageTokens(prompt), (std::vector<int64_t>{2, 3}));
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

TEST(TokenReducerTest, AStageWithNothingToRemoveIsSkipped) {
  FixedPlanReducer reducer({{1, 36}}, true);
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  testing::RunReducer(reducer, prompt, 4);
  EXPECT_TRUE(reducer.calls.empty());
}

TEST(TokenReducerTest, AMissingAttentionRecordIsAnError) {
  FixedPlanReducer needs({{2, 4}}, true);
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  needs.Begin(prompt.images, 4);
  EXPECT_THROW(needs.BeforeLayer(2, prompt.tokens, nullptr), Error);

  FixedPlanReducer does_not({{2, 4}}, false);
  does_not.Begin(prompt.images, 4);
  does_not.BeforeLayer(2, prompt.tokens, nullptr);
  EXPECT_EQ(testing::LiveImageTokens(prompt).size(), 4u);
}

TEST(TokenReducerTest, BudgetsOutOfRangeFail) {
  const std::vector<ImageRun> image = {{5, 6, 6}};
  for (const double keep : {0.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(MakeTokenReducer("lightvlm", KeepOptions(keep))->Begin(image, 8), Error)
        << "keep " << keep;
  }
  try {
    MakeTokenReducer("fastv", FinalTokensOptions(37))->Begin(image, 8);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("36 image tokens"), std::string::npos) << error.what();
  }
  EXPECT_NO_THROW(MakeTokenReducer("lightvlm", KeepOptions(1.0))->Begin(image, 8));
  EXPECT_NO_THROW(MakeTokenReducer("pdrop", FinalTokensOptions(36))->Begin(image, 8));
}

TEST(TokenReducerRegistryTest, ListsEveryReducer) {
  EXPECT_EQ(TokenReducerNames(),
            (std::vector<std::string>{"cdpruner", "dart", "fastv", "lightvlm", "none", "pdrop",
                                      "random", "uniform", "visionzip"}));
  for (const std::string& name : TokenReducerNames()) {
    EXPECT_NE(MakeTokenReducer(name, {}), nullptr) << name;
  }
}

TEST(TokenReducerRegistryTest, AnUnknownNameFailsListingTheKnownOnes) {
  try {
    MakeTokenReducer("tome", {});
    FAIL() << "expected an error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'tome'"), std::string::npos) << message;
    for (const std::string& name : TokenReducerNames()) {
      EXPECT_NE(message.find(name), std::string::npos) << message;
    }
  }
}

// Each reducer inside the 2-layer LLaVA decoder (stages therefore at layer 1): layer l's KV
// cache holds the text tokens and exactly the image tokens planned for layer l.
class ReducerInDecoderTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { llava_ = new testing::TinyLlava(); }
  static void TearDownTestSuite() { delete llava_; }
  static testing::TinyLlava* llava_;
};
testing::TinyLlava* ReducerInDecoderTest::llava_ = nullptr;

TEST_P(ReducerInDecoderTest, CachesAreRaggedAsPlanned) {
  ThreadPool pool(2);
  ReducerOptions question = FinalTokensOptions(16);
  question.query_span = QuerySpan::kQuestion;
  for (const ReducerOptions& options : {KeepOptions(0.75), FinalTokensOptions(16), question}) {
    const auto reducer = MakeTokenReducer(GetParam(), options);
    KvCache cache = llava_->decoder().NewCache(llava_->prompt_tokens());
    const std::vector<float> logits = llava_->Prefill(pool, cache, reducer.get());
    EXPECT_TRUE(testing::AllFinite(logits));
    const std::vector<int64_t> planned = reducer->ImageTokensPerLayer();
    ASSERT_EQ(cache.num_layers(), 2);
    for (int64_t layer = 0; layer < cache.num_layers(); ++layer) {
      EXPECT_EQ(cache.layer(layer).size(), llava_->text_tokens() + planned[layer])
          << GetParam() << ", layer " << layer;
    }
    if (GetParam() != "none" && options.budget.final_tokens >= 0) {
      EXPECT_EQ(planned[1], 16) << GetParam();
    } else if (GetParam() != "none") {
      EXPECT_DOUBLE_EQ(reducer->AverageKeep(), 0.75) << GetParam();
    }
  }
}

// At keep 1 every reducer plans no stage and its prefill is none's, logit for logit: what lets a
// sweep take none's run as every reducer's keep-1 run (eval/sweep.h).
TEST_P(ReducerInDecoderTest, AtKeepOneNothingIsPlannedAndThePrefillIsNones) {
  ThreadPool pool(2);
  KvCache none_cache = llava_->decoder().NewCache(llava_->prompt_tokens());
  const std::vector<float> none_logits = llava_->Prefill(pool, none_cache, nullptr);
  const auto reducer = MakeTokenReducer(GetParam(), KeepOptions(1.0));
  KvCache cache = llava_->decoder().NewCache(llava_->prompt_tokens());
  const std::vector<float> logits = llava_->Prefill(pool, cache, reducer.get());
  EXPECT_TRUE(reducer->plan().empty()) << GetParam();
  EXPECT_DOUBLE_EQ(reducer->AverageKeep(), 1.0) << GetParam();
  EXPECT_EQ(logits, none_logits) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Reducers, ReducerInDecoderTest, ::testing::ValuesIn(TokenReducerNames()),
                         [](const auto& info) { return info.param; });

// --plan: the stages as given replace the reducer's own plan; what a model or reducer cannot take
// fails naming the flag.
TEST(TokenReducerTest, PlanAsGivenReplacesTheBudgetsPlan) {
  EXPECT_EQ(ParsePlan("0:21").size(), 1u);
  const std::vector<ReductionStage> plan = ParsePlan("2:40,5:10,7:0");
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[1].layer, 5);
  EXPECT_EQ(plan[1].image_tokens, 10);
  const auto parse_error = [](const std::string& text) {
    try {
      ParsePlan(text);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  for (const std::string bad :
       {"", "2", "2:", ":4", "2:4,", "a:4", "2:-1", "2:4;3:2", "2:4 ,3:2"}) {
    EXPECT_NE(parse_error(bad).find("--plan must be LAYER:TOKENS"), std::string::npos) << bad;
  }
  for (const std::string bad : {"3:10,3:5", "3:10,2:5", "3:10,5:11"}) {
    EXPECT_NE(parse_error(bad).find("--plan: stages must go deeper"), std::string::npos) << bad;
  }

  const std::vector<ImageRun> image = {{.start = 1, .grid_height = 4, .grid_width = 5}};
  ReducerOptions options;
  options.plan = ParsePlan("2:12,5:4,7:0");
  for (const std::string name : {"lightvlm", "fastv", "pdrop", "dart", "random", "uniform"}) {
    const std::unique_ptr<TokenReducer> reducer = MakeTokenReducer(name, options);
    reducer->Begin(image, 8);
    ASSERT_EQ(reducer->plan().size(), 3u) << name;
    EXPECT_EQ(reducer->plan()[0].layer, 2) << name;
    EXPECT_EQ(reducer->ImageTokensPerLayer(), (std::vector<int64_t>{20, 20, 12, 12, 12, 4, 4, 0}))
        << name;
  }
  const auto error_of = [&](const std::string& name, const std::string& text, int64_t layers) {
    ReducerOptions given;
    given.plan = ParsePlan(text);
    try {
      MakeTokenReducer(name, given)->Begin(image, layers);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_NE(error_of("lightvlm", "8:4", 8).find("--plan: a stage at layer 8, but the model has 8"),
            std::string::npos);
  EXPECT_NE(error_of("lightvlm", "2:21", 8).find("keeps 21 image tokens, but the prompt has 20"),
            std::string::npos);
  EXPECT_NE(error_of("cdpruner", "2:10", 8).find("before the LLM only"), std::string::npos);
  EXPECT_NE(error_of("visionzip", "0:10,4:5", 8).find("before the LLM only"), std::string::npos);
  EXPECT_EQ(error_of("cdpruner", "0:10", 8), "");
}

}  // namespace
}  // namespace lightvlm
