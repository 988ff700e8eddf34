// CDPruner: one stage before layer 0 keeping the budget's share of each image, chosen by the
// greedy MAP of a DPP whose kernel weighs the embeddings' cosine similarity by each token's
// relevance to the question: relevant tokens are preferred, duplicates are not.
#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::Image;
using testing::KeepOptions;
using testing::kHiddenWidth;
using testing::Text;

TEST(CdPrunerTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("cdpruner", /*pruned_only=*/true);
}

// Before the LLM, the average share is the share kept: the largest whole count within --keep.
TEST(CdPrunerTest, PrunesOnceBeforeLayerZero) {
  for (const auto& [keep, count] :
       std::vector<std::pair<double, int64_t>>{{0.5, 288}, {0.11, 63}, {0.03, 17}}) {
    const auto reducer = MakeTokenReducer("cdpruner", KeepOptions(keep));
    reducer->Begin({{5, 24, 24}}, 32);
    ASSERT_EQ(reducer->plan().size(), 1u);
    EXPECT_EQ(reducer->plan()[0].layer, 0);
    EXPECT_EQ(reducer->plan()[0].image_tokens, count) << keep;
  }
}

void SetHidden(DecoderTokens& tokens, int64_t token, std::vector<float> row) {
  for (int64_t j = 0; j < kHiddenWidth; ++j) tokens.hidden.f32()[token * kHiddenWidth + j] = row[j];
}

// The question's embeddings point along e4. Tokens 5..14 are duplicates along e1 - e4 and token
// 20 lies along e2 - e4, both relevant (CDPruner's relevance is the negated mean cosine to the
// question, as its code has it); the rest lie along e3 + e4, irrelevant. One token: the first
// relevant one. Two: it and the other relevant direction, not a second duplicate, though that is
// as relevant. Three: then an irrelevant one, which adds a direction where a duplicate adds none.
TEST(CdPrunerTest, PicksRelevantTokensAndSkipsDuplicates) {
  for (const auto& [count, expected] : std::vector<std::pair<int64_t, std::vector<int64_t>>>{
           {1, {5}}, {2, {5, 20}}, {3, {5, 15, 20}}}) {
    testing::SyntheticPrompt prompt = testing::StandardPrompt();  // image tokens 5..40
    for (int64_t token = 5; token < 41; ++token) SetHidden(prompt.tokens, token, {0, 0, 1, 1});
    for (int64_t token = 5; token < 15; ++token) SetHidden(prompt.tokens, token, {2, 0, 0, -2});
    SetHidden(prompt.tokens, 20, {0, 1, 0, -1});
    for (int64_t token = 41; token < 45; ++token) SetHidden(prompt.tokens, token, {0, 0, 0, 3});
    const auto reducer = MakeTokenReducer("cdpruner", FinalTokensOptions(count));
    EXPECT_EQ(testing::RunReducer(*reducer, prompt, 4)[0], count);
    EXPECT_EQ(testing::LiveImageTokens(prompt), expected) << count;
  }
}

// Each image is chosen on its own, its share of the count in proportion to its size.
TEST(CdPrunerTest, SharesTheCountOverImagesByTheirSizes) {
  testing::SyntheticPrompt prompt =
      testing::MakePrompt({Text(3), Image(6, 6), Text(2), Image(2, 3), Text(3)});
  const auto reducer = MakeTokenReducer("cdpruner", FinalTokensOptions(10));
  testing::RunReducer(*reducer, prompt, 4);
  int64_t first = 0, second = 0;
  for (int64_t token : testing::LiveImageTokens(prompt)) {
    (token < prompt.images[1].start ? first : second) += 1;
  }
  EXPECT_EQ(first, 9);
  EXPECT_EQ(second, 1);
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
}

TEST(CdPrunerTest, RecordsNoAttention) { testing::ExpectRecordsNoAttention("cdpruner"); }

TEST(CdPrunerTest, RejectsThetaOutsideZeroToOne) {
  for (const double theta : {-0.1, 1.5}) {
    ReducerOptions options = KeepOptions(0.5);
    options.cdpruner_theta = theta;
    EXPECT_THROW(MakeTokenReducer("cdpruner", options), Error) << theta;
  }
}

}  // namespace
}  // namespace lightvlm
