// No reduction: an empty plan, and with it the decoder's output bit-identical to running without
// a reducer.
#include <gtest/gtest.h>

#include <algorithm>

#include "reduce/reducer_harness.h"
#include "reduce/tiny_llava.h"

namespace lightvlm {
namespace {

using testing::FinalTokensOptions;
using testing::KeepOptions;

TEST(NoReductionTest, PlansNothingWhateverTheBudget) {
  for (const ReducerOptions& options :
       {KeepOptions(1.0), KeepOptions(0.1), FinalTokensOptions(3)}) {
    const auto reducer = MakeTokenReducer("none", options);
    testing::SyntheticPrompt prompt = testing::StandardPrompt();
    EXPECT_EQ(testing::RunReducer(*reducer, prompt, 4), (std::vector<int64_t>(4, 36)));
    EXPECT_TRUE(reducer->plan().empty());
    EXPECT_DOUBLE_EQ(reducer->AverageKeep(), 1.0);
    for (int64_t layer = 0; layer < 4; ++layer) {
      EXPECT_TRUE(reducer->ScoreRows(layer, prompt.tokens).empty());
    }
    EXPECT_EQ(prompt.tokens.size(), 45);
    testing::ExpectOnlyImageTokensReduced(prompt, /*pruned_only=*/true);
  }
}

TEST(NoReductionTest, TheLlavaDecoderIsBitIdenticalToRunningWithoutAReducer) {
  const testing::TinyLlava llava;
  ThreadPool pool(2);
  KvCache plain_cache = llava.decoder().NewCache(llava.prompt_tokens());
  const std::vector<float> plain = llava.Prefill(pool, plain_cache, nullptr);
  // The setup itself is right: the plain decoder agrees with transformers.
  const std::vector<float> expected = llava.golden().Floats("logits_last");
  ASSERT_EQ(expected.size(), plain.size());
  EXPECT_LT(testing::MaxAbsDifference(plain.data(), expected.data(), plain.size()), 1e-3);

  const auto none = MakeTokenReducer("none", KeepOptions(0.35));
  KvCache cache = llava.decoder().NewCache(llava.prompt_tokens());
  EXPECT_EQ(llava.Prefill(pool, cache, none.get()), plain);
  for (int64_t layer = 0; layer < cache.num_layers(); ++layer) {
    const LayerKvCache& a = cache.layer(layer);
    const LayerKvCache& b = plain_cache.layer(layer);
    ASSERT_EQ(a.size(), llava.prompt_tokens());
    ASSERT_EQ(a.size(), b.size());
    for (int64_t row = 0; row < a.size(); ++row) {
      ASSERT_EQ(a.Key(row), b.Key(row)) << "layer " << layer << ", row " << row;
      ASSERT_EQ(a.Value(row), b.Value(row)) << "layer " << layer << ", row " << row;
    }
  }
}

}  // namespace
}  // namespace lightvlm
