// FastV: one pruning stage before layer K by the attention of the scoring rows (the question span
// by default), its count from the budget (keep * L = K + (L - K) * R), K moving earlier when the
// budget is too small.
#include <gtest/gtest.h>

#include <numeric>

#include "base/error.h"
#include "reduce/reducer_harness.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;

// The one stage of fastv's plan for a 24 x 24 image in `num_layers` layers.
ReductionStage OnlyStage(const ReducerOptions& options, int64_t num_layers) {
  const auto reducer = MakeTokenReducer("fastv", options);
  reducer->Begin({{5, 24, 24}}, num_layers);
  EXPECT_EQ(reducer->plan().size(), 1u);
  return reducer->plan().empty() ? ReductionStage{} : reducer->plan()[0];
}

void ExpectStage(const ReductionStage& stage, int64_t layer, int64_t image_tokens) {
  EXPECT_EQ(stage.layer, layer);
  EXPECT_EQ(stage.image_tokens, image_tokens);
}

TEST(FastVTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("fastv", /*pruned_only=*/true);
}

TEST(FastVTest, PrunesOnceBeforeLayerKToTheBudgetedCount) {
  ExpectStage(OnlyStage(KeepOptions(17.0 / 32), 32), 2, 288);  // FastV's own K = 2, R = 50%
  ExpectStage(OnlyStage(KeepOptions(0.5), 32), 2, 268);        // R = 14/30 of 576 = 268.8
  ExpectStage(OnlyStage(FinalTokensOptions(64), 32), 2, 64);
  ReducerOptions later = KeepOptions(0.5);
  later.fastv_layer = 5;
  ExpectStage(OnlyStage(later, 32), 5, 234);  // R = 11/27 of 576 = 234.7
}

TEST(FastVTest, MovesKEarlierWhenTheBudgetIsBelowKOverL) {
  // 0.05 * 32 = 1.6 < 2: K = 1 and R = 0.6 / 31 of 576 = 11.15 -> 11.
  ExpectStage(OnlyStage(KeepOptions(0.05), 32), 1, 11);
  // 0.02 * 32 < 1: K = 0, scored by a probe of layer 0, R = 0.02 of 576 = 11.52 -> 11.
  const auto reducer = MakeTokenReducer("fastv", KeepOptions(0.02));
  reducer->Begin({{5, 24, 24}}, 32);
  ExpectStage(reducer->plan().at(0), 0, 11);
  EXPECT_DOUBLE_EQ(reducer->AverageKeep(), 11.0 / 576);
}

TEST(FastVTest, LowersKOnShallowDecodersAndRejectsLayerZero) {
  ExpectStage(OnlyStage(KeepOptions(0.75), 2), 1, 288);
  ReducerOptions zero = KeepOptions(0.5);
  zero.fastv_layer = 0;
  EXPECT_THROW(MakeTokenReducer("fastv", zero)->Begin({{5, 24, 24}}, 32), Error);
}

TEST(FastVTest, KeepsWhatTheLastPromptTokensAttendToMost) {
  for (const int64_t query_tokens : {1, 3}) {
    ReducerOptions options = testing::MassWeighted(FinalTokensOptions(9));
    options.query_span = QuerySpan::kLastTokens;
    options.query_tokens = query_tokens;
    const auto reducer = MakeTokenReducer("fastv", options);
    testing::SyntheticPrompt prompt = testing::StandardPrompt();
    const std::vector<int64_t> image = testing::LiveImageTokens(prompt);
    reducer->Begin(prompt.images, 4);
    EXPECT_EQ(reducer->ScoreRows(1, prompt.tokens).size(), static_cast<size_t>(query_tokens));
    EXPECT_EQ(testing::RunReducer(*reducer, prompt, 4), (std::vector<int64_t>{36, 36, 9, 9}));
    EXPECT_EQ(testing::LiveImageTokens(prompt),
              testing::TopScored(image, 9, testing::ScrambledScore));
    testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
  }
}

// The default equal vote ranks by AttentionReceived(..., kEqual) of the question span's rows.
TEST(FastVTest, EqualVotesKeepTheTopOfTheNormalizedRows) {
  const auto reducer = MakeTokenReducer("fastv", FinalTokensOptions(9));
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  reducer->Begin(prompt.images, 4);
  std::vector<int64_t> image_rows(36);
  std::iota(image_rows.begin(), image_rows.end(), 5);
  const LayerAttention attention =
      testing::MakeAttention(1, prompt.tokens, reducer->ScoreRows(1, prompt.tokens), {});
  ASSERT_EQ(attention.query_rows, (std::vector<int64_t>{41, 42, 43, 44}));
  std::vector<int64_t> expected;
  for (int64_t index :
       TopIndices(AttentionReceived(attention, image_rows, QueryWeights::kEqual), 9)) {
    expected.push_back(prompt.tokens.token_index[image_rows[index]]);
  }
  testing::RunReducer(*reducer, prompt, 4);
  EXPECT_EQ(testing::LiveImageTokens(prompt), expected);
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

}  // namespace
}  // namespace lightvlm
