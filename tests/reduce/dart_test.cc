// DART: one pruning stage before layer K with FastV's count rule; the pivots (image and question
// tokens of the largest key norm) keep the image tokens least like themselves, so duplicates go.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;
using testing::kHiddenWidth;

TEST(DartTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("dart", /*pruned_only=*/true);
}

TEST(DartTest, PrunesOnceBeforeLayerKAsFastVCounts) {
  for (const ReducerOptions& options : {KeepOptions(0.5), FinalTokensOptions(64)}) {
    const auto dart = MakeTokenReducer("dart", options);
    const auto fastv = MakeTokenReducer("fastv", options);
    dart->Begin({{5, 24, 24}}, 32);
    fastv->Begin({{5, 24, 24}}, 32);
    ASSERT_EQ(dart->plan().size(), 1u);
    EXPECT_EQ(dart->plan()[0].layer, 2);
    EXPECT_EQ(dart->plan()[0].image_tokens, fastv->plan()[0].image_tokens);
  }
}

void SetHidden(DecoderTokens& tokens, int64_t token, std::vector<float> row) {
  for (int64_t j = 0; j < kHiddenWidth; ++j) tokens.hidden.f32()[token * kHiddenWidth + j] = row[j];
}

// One image pivot (token 20, the largest key norm, direction e1) and one question pivot (token
// 43, direction e2); every other image token is a near-duplicate of the image pivot except four.
// Five kept: the pivot, then two each for the pivots in prompt order. The image pivot keeps its
// opposite (token 8) and the token leaning away from it (30); the question pivot keeps the two
// orthogonal to it (12 and 39), as the duplicates lean slightly toward e2. No duplicate survives.
TEST(DartTest, KeepsThePivotsAndTheTokensLeastLikeThem) {
  ReducerOptions options = FinalTokensOptions(5);
  options.dart_image_pivots = 1;
  options.dart_text_pivots = 1;
  testing::SyntheticPrompt prompt = testing::StandardPrompt();  // image tokens 5..40
  for (int64_t token = 5; token < 41; ++token) SetHidden(prompt.tokens, token, {1, 0.2f, 0, 0});
  SetHidden(prompt.tokens, 20, {1, 0, 0, 0});
  SetHidden(prompt.tokens, 8, {-1, 0, 0, 0});
  SetHidden(prompt.tokens, 30, {-0.1f, -1, 0, 0});
  SetHidden(prompt.tokens, 12, {0, 0, 1, 0});
  SetHidden(prompt.tokens, 39, {0, 0, 0, 2});
  SetHidden(prompt.tokens, 43, {0, 3, 0, 0});
  testing::AttentionRecipe recipe;
  recipe.key = [](int64_t token) {
    return std::vector<float>{token == 20 || token == 43 ? -5.0f : 1.0f, 0.5f, -0.5f};
  };
  const auto reducer = MakeTokenReducer("dart", options);
  EXPECT_EQ(testing::RunReducer(*reducer, prompt, 4, recipe), (std::vector<int64_t>{36, 36, 5, 5}));
  EXPECT_EQ(testing::LiveImageTokens(prompt), (std::vector<int64_t>{8, 12, 20, 30, 39}));
  EXPECT_EQ(prompt.tokens.size(), prompt.text_tokens + 5);
}

// The default 4 + 4 pivots share the budget beyond the image pivots as evenly as whole tokens
// allow, so every count is met exactly, down to fewer tokens than pivots.
TEST(DartTest, MeetsSmallCountsExactly) {
  for (const int64_t count : {0, 1, 3, 4, 5, 12, 35}) {
    testing::SyntheticPrompt prompt = testing::StandardPrompt();
    const auto reducer = MakeTokenReducer("dart", FinalTokensOptions(count));
    testing::RunReducer(*reducer, prompt, 4);
    EXPECT_EQ(static_cast<int64_t>(testing::LiveImageTokens(prompt).size()), count);
    testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
  }
}

TEST(DartTest, RejectsNoPivots) {
  ReducerOptions options = KeepOptions(0.5);
  options.dart_image_pivots = 0;
  options.dart_text_pivots = 0;
  EXPECT_THROW(MakeTokenReducer("dart", options), Error);
}

}  // namespace
}  // namespace lightvlm
