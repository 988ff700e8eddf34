// KV policies: the selection rule on hand-checked cases, the accumulated-score bookkeeping
// through compactions, each policy's defaults and knob checks, and the registry.
#include "reduce/kv_policy.h"

#include <gtest/gtest.h>

#include <numeric>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// A one-layer cache of width 1 whose entry for token t has key t and value -t.
void AppendTokens(LayerKvCache& cache, int64_t first, int64_t count) {
  for (int64_t t = first; t < first + count; ++t) {
    const float key = static_cast<float>(t), value = -key;
    cache.Append(&key, &value, &t, 1);
  }
}

// Attention of one row over `n` entries, two heads: head 0 gives `head0`, head 1 `head1`.
Tensor TwoHeadRow(const std::vector<float>& head0, const std::vector<float>& head1) {
  const auto n = static_cast<int64_t>(head0.size());
  Tensor p(DType::kF32, {1, 2, n});
  std::copy(head0.begin(), head0.end(), p.f32());
  std::copy(head1.begin(), head1.end(), p.f32() + n);
  return p;
}

std::vector<int64_t> TokensOf(const LayerKvCache& cache) {
  return {cache.token_index(), cache.token_index() + cache.size()};
}

TEST(KeepSinksRecentHeavyTest, KeepsSinksWindowAndTheBestOfTheMiddle) {
  //                              0    1    2    3    4    5    6    7    8    9
  const std::vector<double> rank = {9.0, 0.0, 0.5, 0.7, 0.1, 0.7, 0.2, 0.0, 0.0, 0.0};
  // sinks {0, 1}, window {7, 8, 9}, 2 heavy of rows 2..6: 0.7 at 3 and 5 (row 0's 9 is a sink).
  EXPECT_EQ(KeepSinksRecentHeavy(10, 2, 3, 7, rank), (std::vector<int64_t>{0, 1, 3, 5, 7, 8, 9}));
  // One heavy: the tie between rows 3 and 5 goes to the earlier.
  EXPECT_EQ(KeepSinksRecentHeavy(10, 2, 3, 6, rank), (std::vector<int64_t>{0, 1, 3, 7, 8, 9}));
  // Within budget: everything.
  EXPECT_EQ(KeepSinksRecentHeavy(4, 2, 3, 7, rank), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(KeepSinksRecentHeavyTest, NeverDropsTheEntryBeingWritten) {
  const std::vector<double> rank = {5, 4, 3, 2, 0};
  // A window of 0 still keeps the newest entry (row 4), though it scores lowest.
  EXPECT_EQ(KeepSinksRecentHeavy(5, 0, 0, 2, rank), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(KeepSinksRecentHeavy(5, 1, 0, 1, rank), (std::vector<int64_t>{4}));
}

// lightvlm with budget 4, 1 sink, window 1, compressing every 2 steps, on one layer: the scores
// are the head-averaged probabilities summed over the scored rows, and follow the compaction.
TEST(KvPolicyTest, AccumulatedScoresFollowTheCacheThroughCompaction) {
  KvPolicyOptions options{.budget = 4, .sinks = 1, .window = 1, .interval = 2};
  const auto policy = MakeKvPolicy("lightvlm", options);
  KvCache cache(1, 1, 64);
  LayerKvCache& layer = cache.layer(0);

  // Prefill of tokens 0..4; the last prompt row is scored.
  policy->Begin({5, 0}, 1, 5);
  AppendTokens(layer, 0, 5);
  policy->AfterLayer(0, layer, TwoHeadRow({.4f, .1f, .3f, .0f, .2f}, {.2f, .3f, .1f, .2f, .2f}));
  const std::vector<double> after_prefill = {.3, .2, .2, .1, .2};
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(policy->scores(0)[i], after_prefill[i], 1e-6);
  policy->AfterPass(cache, 5);
  // Over budget 4: sink 0, newest 4, and 2 heavy of {1, 2, 3}: 1 and 2 (tie, earlier wins).
  EXPECT_EQ(TokensOf(layer), (std::vector<int64_t>{0, 1, 2, 4}));
  const std::vector<double> compacted = {.3, .2, .2, .2};
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(policy->scores(0)[i], compacted[i], 1e-6);

  // Step 1 writes token 5: not yet time to compress (interval 2), the cache may exceed budget.
  AppendTokens(layer, 5, 1);
  policy->AfterLayer(0, layer, TwoHeadRow({.1f, .0f, .5f, .0f, .4f}, {.1f, .2f, .3f, .0f, .4f}));
  policy->AfterPass(cache, 6);
  EXPECT_EQ(layer.size(), 5);
  const std::vector<double> step1 = {.4, .3, .6, .2, .4};
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(policy->scores(0)[i], step1[i], 1e-6);

  // Step 2 writes token 6 and compresses: sink 0, newest 6, heavy: token 2 (.6 + .1) and
  // token 4 (.2 + .3 = .5) beat token 1 (.3 + 0) and token 5 (.4 + 0).
  AppendTokens(layer, 6, 1);
  policy->AfterLayer(0, layer,
                     TwoHeadRow({.0f, .0f, .1f, .3f, .0f, .6f}, {.0f, .0f, .1f, .3f, .0f, .6f}));
  policy->AfterPass(cache, 7);
  EXPECT_EQ(TokensOf(layer), (std::vector<int64_t>{0, 2, 4, 6}));
  const std::vector<double> step2 = {.4, .7, .5, .6};
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(policy->scores(0)[i], step2[i], 1e-6);
  // The values moved with their keys.
  EXPECT_EQ(layer.Value(1)[0], -2.0f);
}

TEST(KvPolicyTest, StreamingKeepsSinksAndTheWindowAtEveryStep) {
  const auto policy = MakeKvPolicy("streaming", {.budget = 6, .interval = 1});
  KvCache cache(1, 1, 64);
  policy->Begin({3, 0}, 1, 3);
  AppendTokens(cache.layer(0), 0, 3);
  policy->AfterPass(cache, 3);
  for (int64_t t = 3; t < 20; ++t) {
    AppendTokens(cache.layer(0), t, 1);
    policy->AfterPass(cache, t + 1);
    std::vector<int64_t> expected = {0, 1, 2, 3};
    if (t >= 6) expected = {0, 1, 2, 3, t - 1, t};
    if (t < 6) expected.resize(t + 1);
    if (t >= 6) {
      EXPECT_EQ(TokensOf(cache.layer(0)), expected) << t;
    } else {
      EXPECT_EQ(cache.layer(0).size(), t + 1);
    }
  }
  EXPECT_EQ(policy->sinks(), 4);
  EXPECT_EQ(policy->window(20), 2);
}

// By default streaming evicts 16 entries every 16 steps: between compressions the cache grows
// to at most budget + 16 (the documented slack), and after each one it holds the sinks and the
// newest budget - sinks entries exactly; the newest entry is never evicted.
TEST(KvPolicyTest, StreamingEvictsInBatchesWithinTheSlack) {
  const auto policy = MakeKvPolicy("streaming", {.budget = 6});
  KvCache cache(1, 1, 128);
  LayerKvCache& layer = cache.layer(0);
  policy->Begin({3, 0}, 1, 3);
  ASSERT_EQ(policy->interval(), 16);
  AppendTokens(layer, 0, 3);
  policy->AfterPass(cache, 3);
  int64_t compressions = 0;
  for (int64_t t = 3; t < 60; ++t) {
    AppendTokens(layer, t, 1);
    EXPECT_LE(layer.size(), 6 + policy->interval()) << t;
    policy->AfterPass(cache, t + 1);
    const std::vector<int64_t> tokens = TokensOf(layer);
    EXPECT_EQ(tokens.back(), t);
    for (int64_t sink = 0; sink < 4; ++sink) EXPECT_EQ(tokens[sink], sink) << t;
    if ((t - 2) % 16 == 0) {  // the 16th, 32nd, ... decode step compressed
      ++compressions;
      EXPECT_EQ(tokens, (std::vector<int64_t>{0, 1, 2, 3, t - 1, t})) << t;
    }
  }
  EXPECT_EQ(compressions, 3);
}

TEST(KvPolicyTest, SnapKvPoolsTheWindowsScoresOnceAfterPrefill) {
  const auto policy = MakeKvPolicy("snapkv", {.budget = 5, .window = 2, .pool = 3});
  EXPECT_EQ(policy->interval(), 0);
  KvCache cache(1, 1, 64);
  LayerKvCache& layer = cache.layer(0);
  policy->Begin({8, 0}, 1, 8);
  AppendTokens(layer, 0, 8);
  ASSERT_EQ(
      policy->CacheScoreRows(0, DecoderTokens{Tensor(DType::kF32, {8, 1}), std::vector<int64_t>(8),
                                              std::vector<PositionId>(8)}),
      (std::vector<int64_t>{6, 7}));
  // Scores of the prefix 0..5: a lone peak at 3 pools onto 2, 3 and 4 (width 3), so the pooled
  // ranking keeps 2, 3, 4 over 0 (a smaller peak with one neighbour outside the prefix).
  policy->AfterLayer(
      0, layer, TwoHeadRow({.2f, 0, 0, .6f, 0, 0, .1f, .1f}, {.2f, 0, 0, .6f, 0, 0, .1f, .1f}));
  policy->AfterPass(cache, 8);
  EXPECT_EQ(TokensOf(layer), (std::vector<int64_t>{2, 3, 4, 6, 7}));
  for (int64_t t = 8; t < 12; ++t) {  // decode steps are never evicted
    AppendTokens(layer, t, 1);
    policy->AfterPass(cache, t + 1);
  }
  EXPECT_EQ(layer.size(), 9);
}

TEST(KvPolicyTest, DefaultsFollowEachMethod) {
  const auto lightvlm = MakeKvPolicy("lightvlm", {});
  lightvlm->Begin({30, 61}, 2, 700);
  EXPECT_EQ(lightvlm->Budget(700), 30 + 61 + 256);
  EXPECT_EQ(lightvlm->sinks(), 4);
  EXPECT_EQ(lightvlm->window(700), 64);
  EXPECT_EQ(lightvlm->interval(), 16);
  const auto streaming = MakeKvPolicy("streaming", {});
  streaming->Begin({30, 61}, 2, 700);
  EXPECT_EQ(streaming->Budget(700), 2004);
  const auto h2o = MakeKvPolicy("h2o", {});
  h2o->Begin({30, 0}, 2, 1000);
  EXPECT_EQ(h2o->Budget(1000), 200);
  EXPECT_EQ(h2o->window(1000), 100);
  EXPECT_EQ(h2o->interval(), 16);
  EXPECT_EQ(streaming->interval(), 16);
  const auto snapkv = MakeKvPolicy("snapkv", {});
  snapkv->Begin({30, 0}, 2, 1000);
  EXPECT_EQ(snapkv->Budget(1000), 2048);
  EXPECT_EQ(snapkv->window(1000), 32);
}

TEST(KvPolicyTest, NoneNeverScoresNorEvicts) {
  const auto none = MakeKvPolicy("none", {.budget = 2, .window = 1});
  KvCache cache(1, 1, 64);
  none->Begin({10, 0}, 1, 10);
  AppendTokens(cache.layer(0), 0, 10);
  DecoderTokens tokens{Tensor(DType::kF32, {10, 1}), std::vector<int64_t>(10),
                       std::vector<PositionId>(10)};
  EXPECT_TRUE(none->CacheScoreRows(0, tokens).empty());
  none->AfterPass(cache, 10);
  EXPECT_EQ(cache.layer(0).size(), 10);
}

TEST(KvPolicyTest, BadKnobsAndNamesFailClearly) {
  const auto begin = [](const std::string& name, const KvPolicyOptions& options) {
    return testing::ErrorOf([&] { MakeKvPolicy(name, options)->Begin({10, 0}, 1, 10); });
  };
  EXPECT_NE(begin("lightvlm", {.budget = 10})
                .find("--kv-budget (10) must hold --kv-sinks + "
                      "--kv-window (4 + 64)"),
            std::string::npos);
  EXPECT_NE(begin("h2o", {.budget = 8, .window = 9}).find("--kv-budget (8)"), std::string::npos);
  EXPECT_NE(begin("lightvlm", {.window = 0}).find("--kv-window must be at least 1"),
            std::string::npos);
  EXPECT_NE(begin("streaming", {.sinks = -3}).find("--kv-sinks must not be negative"),
            std::string::npos);
  EXPECT_NE(begin("snapkv", {.pool = 0}).find("--kv-pool"), std::string::npos);
  const std::string unknown = testing::ErrorOf([] { MakeKvPolicy("lru", {}); });
  EXPECT_NE(unknown.find("unknown KV policy 'lru' (known: h2o, lightvlm, none, snapkv, "
                         "streaming)"),
            std::string::npos)
      << unknown;
}

}  // namespace
}  // namespace lightvlm
