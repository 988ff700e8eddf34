// LightVLM's pyramid token merging: stage layers, the budget, which tokens are kept, where each
// dropped token is merged, that merging conserves the attention-weighted mean, and the method
// inside the real LLaVA decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "reduce/reducer_harness.h"
#include "reduce/reduction_util.h"
#include "reduce/tiny_llava.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;
using testing::kHiddenWidth;

// One merging stage (before layer 2 of 4) that leaves `final_tokens` image tokens.
std::unique_ptr<TokenReducer> OneStage(int64_t final_tokens,
                                       QueryWeights weights = QueryWeights::kMass) {
  ReducerOptions options = FinalTokensOptions(final_tokens);
  options.query_weights = weights;
  options.stages = 1;
  return MakeTokenReducer("lightvlm", options);
}

// The `count` image tokens of the standard prompt with the highest ScrambledScore, ascending.
std::vector<int64_t> TopScoredImageTokens(int64_t count) {
  return testing::TopScored(testing::LiveImageTokens(testing::StandardPrompt()), count,
                            testing::ScrambledScore);
}

std::vector<float> HiddenRow(const DecoderTokens& tokens, int64_t token_index) {
  const auto row = std::find(tokens.token_index.begin(), tokens.token_index.end(), token_index) -
                   tokens.token_index.begin();
  const float* h = tokens.hidden.f32() + row * tokens.hidden.dim(1);
  return {h, h + tokens.hidden.dim(1)};
}

TEST(LightVlmMergeTest, HonoursEveryBudgetAndNeverTouchesText) {
  testing::ExpectReducerHonoursBudgets("lightvlm", /*pruned_only=*/false);
}

TEST(LightVlmMergeTest, StagesSitAtAnEighthAQuarterHalfAndThreeQuartersOfDepth) {
  const auto layers_of = [](int64_t stages, int64_t num_layers) {
    ReducerOptions options = KeepOptions(0.5);
    options.stages = stages;
    const auto reducer = MakeTokenReducer("lightvlm", options);
    reducer->Begin({{5, 24, 24}}, num_layers);
    return testing::StageLayers(reducer->plan());
  };
  EXPECT_EQ(layers_of(4, 32), (std::vector<int64_t>{4, 8, 16, 24}));
  EXPECT_EQ(layers_of(2, 32), (std::vector<int64_t>{16, 24}));
  EXPECT_EQ(layers_of(1, 32), (std::vector<int64_t>{16}));
  EXPECT_EQ(layers_of(4, 2), (std::vector<int64_t>{1}));
}

// On shallow models the depth fractions would cut inside the first two layers (where text reads
// the image most broadly); the pyramid starts after them when the budget can keep them whole.
TEST(LightVlmMergeTest, OnShallowModelsTheFirstStageWaitsForTheBroadLayers) {
  const auto plan_of = [](double keep, int64_t num_layers) {
    const auto reducer = MakeTokenReducer("lightvlm", KeepOptions(keep));
    reducer->Begin({{5, 24, 24}}, num_layers);
    return reducer->plan();
  };
  const auto half = plan_of(0.5, 4);
  EXPECT_EQ(testing::StageLayers(half), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(half.front().image_tokens, 0);  // layers 0 and 1 whole spend the budget
  // Below 2 / L the budget cannot keep them whole: the plan by depth, moved as usual.
  EXPECT_EQ(testing::StageLayers(plan_of(0.35, 4)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(testing::StageLayers(plan_of(0.3, 8)), (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(testing::StageLayers(plan_of(0.2, 8)), (std::vector<int64_t>{1, 2, 4, 6}));
}

TEST(LightVlmMergeTest, KeepsTheTopScoredTokens) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  const auto reducer = OneStage(9);
  EXPECT_EQ(testing::RunReducer(*reducer, prompt, 4), (std::vector<int64_t>{36, 36, 9, 9}));
  EXPECT_EQ(testing::LiveImageTokens(prompt), TopScoredImageTokens(9));
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/false);
}

// Kept token k has a key at angle 2 pi k / 9; each dropped token's key points within 0.3 rad of
// the kept token it must join (t mod 9), at lengths that vary, as cosine ignores them.
TEST(LightVlmMergeTest, MergesEachDroppedTokenIntoTheKeptTokenWithTheMostSimilarKey) {
  const std::vector<int64_t> kept = TopScoredImageTokens(9);
  const auto target_of = [&](int64_t token) {
    const auto found = std::find(kept.begin(), kept.end(), token);
    return found != kept.end() ? found - kept.begin() : token % 9;
  };
  testing::AttentionRecipe recipe;
  recipe.key = [&](int64_t token) {
    const double spread = std::count(kept.begin(), kept.end(), token) ? 0.0 : 0.5;
    const double angle = 2 * std::numbers::pi * static_cast<double>(target_of(token)) / 9 +
                         spread * (testing::ScrambledScore(3 * token) - 1.6);
    const double length = 0.5 + testing::ScrambledScore(5 * token);
    return std::vector<float>{static_cast<float>(length * std::cos(angle)),
                              static_cast<float>(length * std::sin(angle))};
  };
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  testing::RunReducer(*OneStage(9), prompt, 4, recipe);
  ASSERT_EQ(testing::LiveImageTokens(prompt), kept);

  for (size_t k = 0; k < kept.size(); ++k) {
    std::vector<double> sum(kHiddenWidth, 0.0);
    double total = 0;
    for (int64_t token = 5; token < 41; ++token) {
      if (target_of(token) != static_cast<int64_t>(k)) continue;
      const double weight = testing::ScrambledScore(token);
      for (int64_t j = 0; j < kHiddenWidth; ++j) sum[j] += weight * testing::HiddenValue(token, j);
      total += weight;
    }
    const std::vector<float> merged = HiddenRow(prompt.tokens, kept[k]);
    for (int64_t j = 0; j < kHiddenWidth; ++j) {
      EXPECT_NEAR(merged[j], sum[j] / total, 1e-3) << "kept token " << kept[k];
    }
  }
  testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/false);
}

// Random hidden states, keys and scores: sum over groups of W_g * merged_g, W_g the group's total
// weight, equals sum over image tokens of w_i * h_i, with either weighting of the query rows.
class MergingConservesTest : public ::testing::TestWithParam<QueryWeights> {};

TEST_P(MergingConservesTest, TheAttentionWeightedMean) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  float* hidden = prompt.tokens.hidden.f32();
  for (int64_t i = 5 * kHiddenWidth; i < 41 * kHiddenWidth; ++i) {
    hidden[i] = static_cast<float>(2 * testing::ScrambledScore(13 * i) - 3);
  }
  testing::AttentionRecipe recipe;
  recipe.key = [](int64_t token) {
    std::vector<float> key(4);
    for (int64_t j = 0; j < 4; ++j)
      key[j] = static_cast<float>(testing::ScrambledScore(4 * token + j) - 1.5);
    return key;
  };
  const auto reducer = OneStage(7, GetParam());
  reducer->Begin(prompt.images, 4);
  reducer->BeforeLayer(1, prompt.tokens, nullptr);
  const LayerAttention attention =
      testing::MakeAttention(1, prompt.tokens, reducer->ScoreRows(1, prompt.tokens), recipe);

  // Before: each image token's weight (rows 5..40 are the image) and key.
  std::vector<int64_t> image_rows(36);
  std::iota(image_rows.begin(), image_rows.end(), 5);
  const std::vector<double> weight = AttentionReceived(attention, image_rows, GetParam());
  std::vector<double> weighted_sum(kHiddenWidth, 0.0);
  for (int64_t i = 0; i < 36; ++i) {
    for (int64_t j = 0; j < kHiddenWidth; ++j) {
      weighted_sum[j] += weight[i] * hidden[(5 + i) * kHiddenWidth + j];
    }
  }
  reducer->BeforeLayer(2, prompt.tokens, &attention);
  const std::vector<int64_t> kept = testing::LiveImageTokens(prompt);
  ASSERT_EQ(kept.size(), 7u);

  // Each image token's group: the kept token whose key is most cosine-similar (itself if kept).
  const auto cosine = [&](int64_t a, int64_t b) {
    const float* x = attention.keys.f32() + a * 4;
    const float* y = attention.keys.f32() + b * 4;
    double dot = 0, xx = 0, yy = 0;
    for (int64_t j = 0; j < 4; ++j) {
      dot += x[j] * y[j];
      xx += x[j] * x[j];
      yy += y[j] * y[j];
    }
    return dot / std::sqrt(xx * yy);
  };
  std::vector<double> group_weight(kept.size(), 0.0);
  for (int64_t token = 5; token < 41; ++token) {
    size_t group = std::find(kept.begin(), kept.end(), token) - kept.begin();
    if (group == kept.size()) {
      group = 0;
      for (size_t k = 1; k < kept.size(); ++k) {
        if (cosine(token, kept[k]) > cosine(token, kept[group])) group = k;
      }
    }
    group_weight[group] += weight[token - 5];
  }
  std::vector<double> merged_sum(kHiddenWidth, 0.0);
  for (size_t k = 0; k < kept.size(); ++k) {
    const std::vector<float> merged = HiddenRow(prompt.tokens, kept[k]);
    for (int64_t j = 0; j < kHiddenWidth; ++j) merged_sum[j] += group_weight[k] * merged[j];
  }
  for (int64_t j = 0; j < kHiddenWidth; ++j) EXPECT_NEAR(merged_sum[j], weighted_sum[j], 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Weights, MergingConservesTest,
                         ::testing::Values(QueryWeights::kMass, QueryWeights::kEqual),
                         [](const auto& info) {
                           return info.param == QueryWeights::kMass ? "mass" : "equal";
                         });

// With equal votes the kept tokens are the top of AttentionReceived(..., kEqual), which ranks this
// record differently from the plain mean.
TEST(LightVlmMergeTest, EqualVotesKeepTheTopOfTheNormalizedRows) {
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  const auto reducer = OneStage(9, QueryWeights::kEqual);
  reducer->Begin(prompt.images, 4);
  std::vector<int64_t> image_rows(36);
  std::iota(image_rows.begin(), image_rows.end(), 5);
  const LayerAttention attention =
      testing::MakeAttention(1, prompt.tokens, reducer->ScoreRows(1, prompt.tokens), {});
  std::vector<int64_t> expected;
  for (int64_t index :
       TopIndices(AttentionReceived(attention, image_rows, QueryWeights::kEqual), 9)) {
    expected.push_back(prompt.tokens.token_index[image_rows[index]]);
  }
  ASSERT_NE(expected, TopScoredImageTokens(9));
  testing::RunReducer(*reducer, prompt, 4);
  EXPECT_EQ(testing::LiveImageTokens(prompt), expected);
}

// The 2-layer LLaVA decoder: the one stage sits at layer 1. Layer l's cache holds the text and
// the image tokens planned for layer l: at --keep 0.5 none are left for layer 1 (N + 0 = N/2 * 2).
TEST(LightVlmMergeTest, RunsInTheLlavaDecoderWithRaggedCaches) {
  const testing::TinyLlava llava;
  ThreadPool pool(2);
  KvCache full_cache = llava.decoder().NewCache(llava.prompt_tokens());
  const std::vector<float> full = llava.Prefill(pool, full_cache, nullptr);
  for (const double keep : {0.5, 0.75}) {
    const auto reducer = MakeTokenReducer("lightvlm", KeepOptions(keep));
    KvCache cache = llava.decoder().NewCache(llava.prompt_tokens());
    const std::vector<float> logits = llava.Prefill(pool, cache, reducer.get());
    ASSERT_EQ(reducer->plan().size(), 1u);
    EXPECT_EQ(reducer->plan()[0].layer, 1);
    EXPECT_EQ(reducer->plan()[0].image_tokens, keep == 0.5 ? 0 : 288);
    EXPECT_DOUBLE_EQ(reducer->AverageKeep(), keep);
    const std::vector<int64_t> planned = reducer->ImageTokensPerLayer();
    for (int64_t layer = 0; layer < 2; ++layer) {
      EXPECT_EQ(cache.layer(layer).size(), llava.text_tokens() + planned[layer]) << layer;
    }
    EXPECT_TRUE(testing::AllFinite(logits));
    EXPECT_NE(logits, full) << "keep " << keep << " changed nothing";
  }
}

}  // namespace
}  // namespace lightvlm
