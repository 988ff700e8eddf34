// The pieces every reducer uses: attention received, top indices, keeping rows, and the budget
// arithmetic (GeometricPlan, SingleStagePlan, LayersAtDepths).
#include "reduce/reduction_util.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;
using testing::StageCounts;
using testing::StageLayers;

TEST(AttentionReceivedTest, AveragesOverHeadsAndQueries) {
  LayerAttention attention;
  attention.probabilities = Tensor(DType::kF32, {2, 2, 4});  // [queries, heads, n]
  const float values[2][2][4] = {{{0.1f, 0.2f, 0.3f, 0.4f}, {0.3f, 0.0f, 0.5f, 0.2f}},
                                 {{0.0f, 0.6f, 0.1f, 0.3f}, {0.2f, 0.2f, 0.1f, 0.5f}}};
  std::memcpy(attention.probabilities.f32(), values, sizeof(values));
  const std::vector<double> received = AttentionReceived(attention, {1, 3});
  ASSERT_EQ(received.size(), 2u);
  EXPECT_NEAR(received[0], (0.2 + 0.0 + 0.6 + 0.2) / 4, 1e-7);
  EXPECT_NEAR(received[1], (0.4 + 0.2 + 0.3 + 0.5) / 4, 1e-7);
}

TEST(AttentionReceivedTest, EqualWeightsNormalizeEachRowAndHeadOverTheImageRows) {
  LayerAttention attention;
  attention.probabilities = Tensor(DType::kF32, {2, 2, 4});  // [queries, heads, n]
  // Query 1, head 0 gives the image rows {1, 3} nothing: it adds 0 to both.
  const float values[2][2][4] = {{{0.0f, 0.1f, 0.0f, 0.9f}, {0.9f, 0.09f, 0.0f, 0.01f}},
                                 {{0.7f, 0.0f, 0.3f, 0.0f}, {0.8f, 0.15f, 0.0f, 0.05f}}};
  std::memcpy(attention.probabilities.f32(), values, sizeof(values));
  const std::vector<double> mass = AttentionReceived(attention, {1, 3}, QueryWeights::kMass);
  EXPECT_NEAR(mass[0], (0.1 + 0.09 + 0.0 + 0.15) / 4, 1e-7);
  EXPECT_NEAR(mass[1], (0.9 + 0.01 + 0.0 + 0.05) / 4, 1e-7);
  const std::vector<double> equal = AttentionReceived(attention, {1, 3}, QueryWeights::kEqual);
  ASSERT_EQ(equal.size(), 2u);
  EXPECT_NEAR(equal[0], (0.1 + 0.9 + 0.0 + 0.75) / 4, 1e-6);
  EXPECT_NEAR(equal[1], (0.9 + 0.1 + 0.0 + 0.25) / 4, 1e-6);
  // The mass rule ranks row 3 first, the equal vote row 1: the rows that look at the image
  // little count as much as the rest.
  EXPECT_GT(mass[1], mass[0]);
  EXPECT_GT(equal[0], equal[1]);
}

TEST(TopIndicesTest, ReturnsTheHighestAscendingAndBreaksTiesTowardTheEarlier) {
  EXPECT_EQ(TopIndices({5, 1, 4}, 2), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(TopIndices({0.3, 0.9, 0.9, 0.1, 0.9}, 2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(TopIndices({0.3, 0.9, 0.9, 0.1, 0.9}, 3), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(TopIndices({2, 2, 2}, 1), (std::vector<int64_t>{0}));
  EXPECT_TRUE(TopIndices({1, 2}, 0).empty());
  EXPECT_EQ(TopIndices({1, 2}, 5), (std::vector<int64_t>{0, 1}));
}

TEST(KeepImageRowsTest, KeepsTextAndTheChosenImageRowsInOrder) {
  testing::SyntheticPrompt prompt =
      testing::MakePrompt({testing::Text(1), testing::Image(1, 3), testing::Text(2)});
  // Rows 1, 2, 3 are the image; keep its first and last.
  KeepImageRows(prompt.tokens, {1, 2, 3}, {0, 2});
  EXPECT_EQ(prompt.tokens.token_index, (std::vector<int64_t>{0, 1, 3, 4, 5}));
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

TEST(KeepMostAttendedTest, KeepsTheImageRowsThatReceiveTheMostAttention) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  std::vector<int64_t> image_rows;
  for (int64_t row = 5; row < 41; ++row) image_rows.push_back(row);
  testing::AttentionRecipe recipe;
  recipe.score = [](int64_t, int64_t token) { return token == 12 || token == 30 ? 5.0 : 1.0; };
  const LayerAttention attention = testing::MakeAttention(0, prompt.tokens, {44}, recipe);
  KeepMostAttended(prompt.tokens, image_rows, 2, attention, QueryWeights::kMass);
  EXPECT_EQ(testing::LiveImageTokens(prompt), (std::vector<int64_t>{12, 30}));
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

TEST(AverageShareTest, WeighsEachStageByTheLayersItCovers) {
  // 2 layers at 100, 2 at 50, 4 at 10 of 100 tokens over 8 layers.
  EXPECT_DOUBLE_EQ(AverageShare({{2, 50}, {4, 10}}, 100, 8), (200.0 + 100 + 40) / 800);
  EXPECT_DOUBLE_EQ(AverageShare({}, 100, 8), 1.0);
}

TEST(LayersAtDepthsTest, RoundsClampsAndDropsDuplicates) {
  const std::vector<double> quarters = {0.25, 0.5, 0.75};
  EXPECT_EQ(LayersAtDepths(quarters, 32), (std::vector<int64_t>{8, 16, 24}));
  EXPECT_EQ(LayersAtDepths(quarters, 5), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(LayersAtDepths(quarters, 3), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(LayersAtDepths(quarters, 2), (std::vector<int64_t>{1}));
  EXPECT_THROW(LayersAtDepths(quarters, 1), Error);
}

TEST(GeometricPlanTest, BisectsTheRatioToTheLargestPlanWithinTheBudget) {
  // PDrop's own configuration, lambda = 0.5 at 8, 16, 24 of 32 layers, has share 15/32.
  const auto exact = GeometricPlan({8, 16, 24}, 576, 32, KeepOptions(15.0 / 32).budget);
  EXPECT_EQ(StageCounts(exact), (std::vector<int64_t>{288, 144, 72}));

  const auto plan = GeometricPlan({4, 8, 16, 24}, 576, 32, KeepOptions(0.35).budget);
  EXPECT_EQ(StageLayers(plan), (std::vector<int64_t>{4, 8, 16, 24}));
  const double share = AverageShare(plan, 576, 32);
  EXPECT_LE(share, 0.35);
  EXPECT_GE(share, 0.35 - 28.0 / (32 * 576));  // one step of the last token moved: L - L1
  // The counts follow one ratio: c2 ~ c1^2 / N, c3 ~ c1^3 / N^2 (within rounding).
  const double ratio = static_cast<double>(plan[0].image_tokens) / 576;
  EXPECT_NEAR(plan[1].image_tokens, ratio * ratio * 576, 2.0);
  EXPECT_NEAR(plan[2].image_tokens, ratio * ratio * ratio * 576, 2.0);
}

TEST(GeometricPlanTest, MovesTheStagesEarlierWhenTheBudgetIsBelowTheFirstStage) {
  // 4/32 = 0.125 > 0.1: all stages move one layer earlier, 3/32 fits.
  const auto moved = GeometricPlan({4, 8, 16, 24}, 576, 32, KeepOptions(0.1).budget);
  EXPECT_EQ(StageLayers(moved), (std::vector<int64_t>{3, 7, 15, 23}));
  EXPECT_LE(AverageShare(moved, 576, 32), 0.1);
  // Below 1/32 the first stage reaches layer 0 (scored by a probe), and the budget is met there.
  const auto floor = GeometricPlan({4, 8, 16, 24}, 576, 32, KeepOptions(0.02).budget);
  EXPECT_EQ(StageLayers(floor), (std::vector<int64_t>{0, 4, 12, 20}));
  EXPECT_GT(StageCounts(floor).front(), 0);
  EXPECT_LE(AverageShare(floor, 576, 32), 0.02);
  EXPECT_GT(AverageShare(floor, 576, 32), 0.02 - 32.0 / (32 * 576));
}

TEST(GeometricPlanTest, FinalTokensFixTheLastStageExactly) {
  // ratio = (16/576)^(1/4) = 1/sqrt(6): 235.15, 96, 39.19, then 16 exactly.
  const auto plan = GeometricPlan({4, 8, 16, 24}, 576, 32, FinalTokensOptions(16).budget);
  EXPECT_EQ(StageCounts(plan), (std::vector<int64_t>{235, 96, 39, 16}));
  EXPECT_EQ(StageCounts(GeometricPlan({4, 8}, 576, 32, FinalTokensOptions(0).budget)),
            (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(StageCounts(GeometricPlan({4, 8}, 576, 32, FinalTokensOptions(576).budget)),
            (std::vector<int64_t>{576, 576}));
}

TEST(GeometricPlanTest, KeepingEverythingNeedsNoStageAndBadLayersFail) {
  EXPECT_TRUE(GeometricPlan({4}, 576, 32, KeepOptions(1.0).budget).empty());
  EXPECT_THROW(GeometricPlan({}, 576, 32, KeepOptions(0.5).budget), Error);
  EXPECT_THROW(GeometricPlan({-1, 4}, 576, 32, KeepOptions(0.5).budget), Error);
  EXPECT_THROW(GeometricPlan({4, 4}, 576, 32, KeepOptions(0.5).budget), Error);
  EXPECT_THROW(GeometricPlan({32}, 576, 32, KeepOptions(0.5).budget), Error);
}

TEST(SingleStagePlanTest, SolvesKeepTimesLayersForTheCount) {
  // keep * L = K + (L - K) * R with K = 2, L = 32, N = 576.
  EXPECT_EQ(StageCounts(SingleStagePlan(2, 576, 32, KeepOptions(17.0 / 32).budget)),
            (std::vector<int64_t>{288}));  // FastV's own R = 50%
  // R = 14/30: 268.8 tokens, and the plan may not exceed the budget: 268.
  const auto half = SingleStagePlan(2, 576, 32, KeepOptions(0.5).budget);
  EXPECT_EQ(StageLayers(half), (std::vector<int64_t>{2}));
  EXPECT_EQ(StageCounts(half), (std::vector<int64_t>{268}));
  EXPECT_EQ(StageCounts(SingleStagePlan(2, 576, 32, FinalTokensOptions(16).budget)),
            (std::vector<int64_t>{16}));
}

TEST(SingleStagePlanTest, MovesKEarlierDownToAProbeOfLayerZero) {
  // 0.05 * 32 = 1.6 < K = 2: K = 1, R = 0.6 / 31 -> 11.15 tokens -> 11.
  const auto earlier = SingleStagePlan(2, 576, 32, KeepOptions(0.05).budget);
  EXPECT_EQ(StageLayers(earlier), (std::vector<int64_t>{1}));
  EXPECT_EQ(StageCounts(earlier), (std::vector<int64_t>{11}));
  // 0.02 * 32 < 1: K = 0 (a probe of layer 0 scores it), R = 0.02 -> 11.52 tokens -> 11.
  const auto probed = SingleStagePlan(2, 576, 32, KeepOptions(0.02).budget);
  EXPECT_EQ(StageLayers(probed), (std::vector<int64_t>{0}));
  EXPECT_EQ(StageCounts(probed), (std::vector<int64_t>{11}));
}

TEST(SingleStagePlanTest, LowersKOnShallowDecodersAndRejectsLayerZero) {
  EXPECT_EQ(StageLayers(SingleStagePlan(2, 576, 2, KeepOptions(0.75).budget)),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(StageCounts(SingleStagePlan(2, 576, 2, KeepOptions(0.75).budget)),
            (std::vector<int64_t>{288}));
  EXPECT_EQ(StageLayers(SingleStagePlan(5, 576, 32, KeepOptions(0.5).budget)),
            (std::vector<int64_t>{5}));
  EXPECT_THROW(SingleStagePlan(0, 576, 32, KeepOptions(0.5).budget), Error);
  EXPECT_THROW(SingleStagePlan(2, 576, 1, KeepOptions(0.5).budget), Error);
}

}  // namespace
}  // namespace lightvlm
