// Random pruning: FastV's stage and count with a uniformly random, seeded subset.
#include <gtest/gtest.h>

#include "reduce/reducer_harness.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;

// The image tokens a random reducer with `seed` keeps of the standard prompt, final count 18.
std::vector<int64_t> Survivors(uint64_t seed) {
  ReducerOptions options = FinalTokensOptions(18);
  options.seed = seed;
  const auto reducer = MakeTokenReducer("random", options);
  testing::SyntheticPrompt prompt = testing::StandardPrompt();
  testing::RunReducer(*reducer, prompt, 4);
  return testing::LiveImageTokens(prompt);
}

TEST(RandomPruneTest, HonoursEveryBudgetAndPrunesOnlyImageTokens) {
  testing::ExpectReducerHonoursBudgets("random", /*pruned_only=*/true);
}

TEST(RandomPruneTest, PlansAsFastVDoes) {
  for (const int64_t num_layers : {2, 8, 32}) {
    for (const ReducerOptions& options :
         {KeepOptions(0.5), KeepOptions(0.05), KeepOptions(0.02), FinalTokensOptions(16)}) {
      const auto random = MakeTokenReducer("random", options);
      const auto fastv = MakeTokenReducer("fastv", options);
      random->Begin({{5, 24, 24}}, num_layers);
      fastv->Begin({{5, 24, 24}}, num_layers);
      EXPECT_EQ(testing::StageLayers(random->plan()), testing::StageLayers(fastv->plan()));
      EXPECT_EQ(testing::StageCounts(random->plan()), testing::StageCounts(fastv->plan()));
    }
  }
}

TEST(RandomPruneTest, RecordsNoAttention) { testing::ExpectRecordsNoAttention("random"); }

TEST(RandomPruneTest, TheSeedFixesTheSubset) {
  EXPECT_EQ(Survivors(7), Survivors(7));
  EXPECT_NE(Survivors(7), Survivors(8));
  // The same reducer on the same prompt again: the same subset, whatever ran before.
  const auto reducer = MakeTokenReducer("random", FinalTokensOptions(18));
  std::vector<std::vector<int64_t>> runs;
  for (int run = 0; run < 2; ++run) {
    testing::SyntheticPrompt prompt = testing::StandardPrompt();
    testing::RunReducer(*reducer, prompt, 4);
    runs.push_back(testing::LiveImageTokens(prompt));
  }
  EXPECT_EQ(runs[0], runs[1]);
}

// Over 2000 seeds every image token is kept about half the time (binomial sd 0.011).
TEST(RandomPruneTest, EveryTokenIsEquallyLikelyToStay) {
  std::vector<int> kept(41, 0);
  const int seeds = 2000;
  for (int seed = 0; seed < seeds; ++seed) {
    for (int64_t token : Survivors(seed)) ++kept[token];
  }
  for (int64_t token = 5; token < 41; ++token) {
    EXPECT_NEAR(kept[token] / static_cast<double>(seeds), 0.5, 0.06) << "token " << token;
  }
}

}  // namespace
}  // namespace lightvlm
