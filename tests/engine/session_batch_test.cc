// Batched decoding: sessions at different lengths, one with a KV policy, stepped together
// through one decoder pass per step, must produce what each produces alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/model.h"
#include "engine/session.h"
#include "reduce/kv_policy.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

int32_t Greedy(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

TEST(SessionBatchTest, BatchedStepsMatchEachSessionAlone) {
  const Model model = LoadModel(testing::kStoriesDir);
  ThreadPool pool(2);
  const std::vector<std::string> prompts = {"Once upon a time", "The cat sat on the mat and",
                                            "Lily and Ben went to the park. They saw a big"};
  const auto streaming = MakeKvPolicy("streaming", {.budget = 12, .sinks = 2});
  const auto streaming_alone = MakeKvPolicy("streaming", {.budget = 12, .sinks = 2});
  std::vector<Session> together, alone;
  together.reserve(prompts.size());
  alone.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    together.emplace_back(model.decoder(), pool, 128);
    alone.emplace_back(model.decoder(), pool, 128);
  }
  // The last sequence compresses its cache, so the three caches differ in length as well.
  together.back().SetKvPolicy(streaming.get());
  alone.back().SetKvPolicy(streaming_alone.get());
  std::vector<int32_t> next(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int32_t> ids = model.tokenizer->Encode(prompts[i], true);
    next[i] = Greedy(together[i].Prefill(ids));
    alone[i].Prefill(ids);
  }
  std::vector<Session*> batch;
  for (Session& session : together) batch.push_back(&session);
  for (int step = 0; step < 20; ++step) {
    const std::vector<std::vector<float>> logits = Session::DecodeBatch(batch, next);
    ASSERT_EQ(logits.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      const std::vector<float> expected = alone[i].Decode(next[i]);
      ASSERT_LT(testing::MaxAbsDifference(logits[i].data(), expected.data(), expected.size()), 1e-4)
          << "sequence " << i << " step " << step;
      next[i] = Greedy(expected);
      EXPECT_EQ(together[i].length(), alone[i].length());
    }
  }
  EXPECT_LE(together.back().cache().layer(0).size(), 12 + streaming->interval());
  EXPECT_EQ(together.back().cache().layer(0).size(), alone.back().cache().layer(0).size());
}

TEST(SessionBatchTest, RejectsMismatchedTokensAndFullContexts) {
  const Model model = LoadModel(testing::kStoriesDir);
  ThreadPool pool(1);
  Session session(model.decoder(), pool, 2);
  session.Prefill(std::vector<int32_t>{1});
  std::vector<Session*> batch = {&session};
  EXPECT_THROW(Session::DecodeBatch(batch, std::vector<int32_t>{1, 2}), Error);
  Session::DecodeBatch(batch, std::vector<int32_t>{5});
  try {
    Session::DecodeBatch(batch, std::vector<int32_t>{5});
    FAIL() << "a full context must be refused";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("is full"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace lightvlm
