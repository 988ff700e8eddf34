// Continuous batching on the real stories260k model: requests of different lengths join and
// leave a batch of two, and each one's tokens are those it generates alone.
#include "engine/batch_generator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "engine/model.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

struct Case {
  std::string prompt;
  int64_t max_new_tokens;
  float temperature;
};

const std::vector<Case> kCases = {{"Once upon a time", 12, 0.0f},
                                  {"The cat sat on the mat and", 5, 0.0f},
                                  {"Lily and Ben went to the park. They saw a big", 20, 0.8f},
                                  {"Tom had a red ball", 1, 0.0f},
                                  {"One day, a little bird", 9, 0.0f}};

GenerationOptions OptionsFor(const Case& c, const Model& model) {
  GenerationOptions options;
  options.max_new_tokens = c.max_new_tokens;
  options.sampling.temperature = c.temperature;
  options.sampling.seed = 5;
  options.stop_token_ids = model.stop_token_ids;
  return options;
}

TEST(BatchGeneratorTest, EveryRequestGeneratesWhatItGeneratesAlone) {
  const Model model = LoadModel(testing::kStoriesDir);
  ThreadPool pool(2);
  const auto streaming = [] { return MakeKvPolicy("streaming", {.budget = 10, .sinks = 2}); };
  BatchGenerator batch(model.decoder(), pool,
                       {.max_batch = 2, .context = 64, .make_kv_policy = streaming});
  std::vector<std::vector<int32_t>> streamed(kCases.size());
  for (size_t i = 0; i < kCases.size(); ++i) {
    const auto ids = model.tokenizer->Encode(kCases[i].prompt, true);
    EXPECT_EQ(batch.Submit({Prompt{ids, {}, {}}, OptionsFor(kCases[i], model),
                            [&streamed, i](int32_t token) {
                              streamed[i].push_back(token);
                              return true;
                            }}),
              static_cast<int64_t>(i));
  }
  EXPECT_EQ(batch.waiting(), 5);
  ASSERT_TRUE(batch.Step());
  EXPECT_EQ(batch.running(), 2);  // the first two were admitted; the rest wait for a slot
  EXPECT_EQ(batch.waiting(), 3);
  const std::vector<GenerationResult> results = batch.RunToCompletion();
  EXPECT_EQ(batch.largest_batch(), 2);
  EXPECT_EQ(batch.running(), 0);
  EXPECT_EQ(batch.waiting(), 0);

  ASSERT_EQ(results.size(), kCases.size());
  int64_t decode_steps_alone = 0;
  for (size_t i = 0; i < kCases.size(); ++i) {
    const auto ids = model.tokenizer->Encode(kCases[i].prompt, true);
    Session alone(model.decoder(), pool, 64);
    const auto policy = streaming();
    alone.SetKvPolicy(policy.get());
    const GenerationResult expected =
        alone.Generate(ids, OptionsFor(kCases[i], model), [](int32_t) { return true; });
    EXPECT_EQ(results[i].tokens, expected.tokens) << kCases[i].prompt;
    EXPECT_EQ(results[i].stop_reason, expected.stop_reason) << kCases[i].prompt;
    EXPECT_EQ(results[i].prompt_tokens, static_cast<int64_t>(ids.size()));
    EXPECT_EQ(streamed[i], results[i].tokens);
    decode_steps_alone += static_cast<int64_t>(expected.tokens.size()) - 1;
  }
  // Sharing steps: fewer batched steps than the requests' decode steps one by one.
  EXPECT_LT(batch.steps(), decode_steps_alone);
}

TEST(BatchGeneratorTest, ACallerStopsOnlyItsOwnRequest) {
  const Model model = LoadModel(testing::kStoriesDir);
  ThreadPool pool(1);
  BatchGenerator batch(model.decoder(), pool, {.max_batch = 4, .context = 64});
  const auto ids = model.tokenizer->Encode("Once upon a time", true);
  GenerationOptions options;
  options.max_new_tokens = 8;
  int seen = 0;
  batch.Submit({Prompt{ids, {}, {}}, options, [&seen](int32_t) { return ++seen < 3; }});
  batch.Submit({Prompt{ids, {}, {}}, options, {}});
  const std::vector<GenerationResult> results = batch.RunToCompletion();
  EXPECT_EQ(results[0].stop_reason, StopReason::kCaller);
  EXPECT_EQ(results[0].tokens.size(), 3u);
  EXPECT_EQ(results[1].stop_reason, StopReason::kMaxTokens);
  EXPECT_EQ(results[1].tokens.size(), 8u);
  EXPECT_TRUE(
      std::equal(results[0].tokens.begin(), results[0].tokens.end(), results[1].tokens.begin()));
}

TEST(BatchGeneratorTest, RejectsWhatCannotRun) {
  const Model model = LoadModel(testing::kStoriesDir);
  ThreadPool pool(1);
  EXPECT_THROW(BatchGenerator(model.decoder(), pool, {.max_batch = 0, .context = 64}), Error);
  BatchGenerator batch(model.decoder(), pool, {.max_batch = 2, .context = 8});
  const auto ids = model.tokenizer->Encode("Once upon a time there was a little girl", true);
  ASSERT_GE(ids.size(), 8u);
  EXPECT_THROW(batch.Submit({Prompt{ids, {}, {}}, GenerationOptions{}, {}}), Error);
  GenerationOptions none;
  none.max_new_tokens = 0;
  EXPECT_THROW(batch.Submit({Prompt{{1, 2}, {}, {}}, none, {}}), Error);
  EXPECT_FALSE(batch.Step());  // nothing was queued
}

}  // namespace
}  // namespace lightvlm
