// PyramidDrop: stages at 1/4, 1/2, 3/4 of depth, each keeping the same fraction lambda (from the
// budget) of the image tokens live before it, by the last instruction token's attention at the
// layer before the stage.
#include <gtest/gtest.h>

#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;
using testing::StageCounts;
using testing::StageLayers;

std::vector<ReductionStage> PlanFor(const ReducerOptions& options, int64_t num_layers,
                                    int64_t image_side = 24) {
  const auto reducer = MakeTokenReducer("pdrop", options);
  reducer->Begin({{5, image_side, image_side}}, num_layers);
  return reducer->plan();
}

TEST(PyramidDropTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("pdrop", /*pruned_only=*/true);
}

TEST(PyramidDropTest, StagesSitAtQuartersOfDepth) {
  EXPECT_EQ(StageLayers(PlanFor(KeepOptions(0.5), 32)), (std::vector<int64_t>{8, 16, 24}));
  EXPECT_EQ(StageLayers(PlanFor(KeepOptions(0.5), 5)), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(StageLayers(PlanFor(KeepOptions(0.5), 3)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(StageLayers(PlanFor(KeepOptions(0.5), 2)), (std::vector<int64_t>{1}));
}

TEST(PyramidDropTest, TheBudgetOfLambdaOneHalfGivesPDropsOwnPlan) {
  // lambda = 0.5 at 8, 16, 24 of 32 layers: (8 + 4 + 2 + 1) / 32 of the image-token compute.
  EXPECT_EQ(StageCounts(PlanFor(KeepOptions(15.0 / 32), 32)), (std::vector<int64_t>{288, 144, 72}));
}

TEST(PyramidDropTest, EveryStageKeepsTheSameFraction) {
  const std::vector<int64_t> counts = StageCounts(PlanFor(KeepOptions(0.35), 32));
  ASSERT_EQ(counts.size(), 3u);
  const double lambda = static_cast<double>(counts[0]) / 576;
  EXPECT_NEAR(counts[1], lambda * lambda * 576, 1.5);
  EXPECT_NEAR(counts[2], lambda * lambda * lambda * 576, 1.5);
  EXPECT_EQ(StageCounts(PlanFor(FinalTokensOptions(72), 32)), (std::vector<int64_t>{288, 144, 72}));
}

// Scores differ from layer to layer; each stage must rank by the layer just before it.
TEST(PyramidDropTest, EachStageRanksByTheAttentionOfTheLayerBeforeIt) {
  testing::AttentionRecipe recipe;
  recipe.score = [](int64_t layer, int64_t token) {
    return testing::ScrambledScore(token + 100 * layer);
  };
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  std::vector<int64_t> expected = testing::LiveImageTokens(prompt);
  const auto reducer = MakeTokenReducer("pdrop", testing::MassWeighted(FinalTokensOptions(4)));
  const std::vector<int64_t> live = testing::RunReducer(*reducer, prompt, 8, recipe);
  // Stages at 2, 4, 6 of 8 layers with lambda = (4/36)^(1/3): 17, 8, 4 tokens.
  EXPECT_EQ(live, (std::vector<int64_t>{36, 36, 17, 17, 8, 8, 4, 4}));
  for (const ReductionStage& stage : reducer->plan()) {
    expected = testing::TopScored(expected, stage.image_tokens, [&](int64_t token) {
      return recipe.score(stage.layer - 1, token);
    });
  }
  EXPECT_EQ(testing::LiveImageTokens(prompt), expected);
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

}  // namespace
}  // namespace lightvlm
