#include "engine/session.h"

#include <gtest/gtest.h>

#include <string>

#include "base/error.h"
#include "engine/model.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

class StoriesSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new Model(LoadModel(testing::kStoriesDir)); }
  static void TearDownTestSuite() { delete model_; }

  std::vector<int32_t> Encode(const std::string& text) {
    return model_->tokenizer->Encode(text, /*add_special=*/true);
  }
  GenerationOptions Greedy(int64_t max_new_tokens) {
    GenerationOptions options;
    options.max_new_tokens = max_new_tokens;
    options.stop_token_ids = model_->stop_token_ids;
    return options;
  }

  static Model* model_;
  ThreadPool pool_{2};
};
Model* StoriesSessionTest::model_ = nullptr;

auto Accept = [](int32_t) { return true; };

TEST_F(StoriesSessionTest, GreedyContinuationMatchesTheModelCard) {
  Session session(model_->decoder(), pool_, 512);
  const std::vector<int32_t> prompt = Encode("Once upon a time");
  const GenerationResult result = session.Generate(prompt, Greedy(40), Accept);
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), result.tokens.begin(), result.tokens.end());
  const std::string text = model_->tokenizer->Decode(all, /*skip_special=*/true);
  EXPECT_EQ(text.rfind("Once upon a time, there was a little girl named Lily. She loved to play "
                       "outside in the park.",
                       0),
            0u)
      << text;
  EXPECT_EQ(result.stop_reason, StopReason::kMaxTokens);
  EXPECT_EQ(result.tokens.size(), 40u);
}

TEST_F(StoriesSessionTest, StopsWhenTheContextIsFull) {
  const std::vector<int32_t> prompt = Encode("Once upon a time");
  Session session(model_->decoder(), pool_, static_cast<int64_t>(prompt.size()) + 3);
  const GenerationResult result = session.Generate(prompt, Greedy(100), Accept);
  EXPECT_EQ(result.stop_reason, StopReason::kContextFull);
  EXPECT_EQ(result.tokens.size(), 4u);  // the last one is sampled but not fed back
  EXPECT_EQ(session.length(), session.context());
}

TEST_F(StoriesSessionTest, PromptLongerThanTheContextFailsClearly) {
  const std::vector<int32_t> prompt = Encode("Once upon a time there was a big dog.");
  Session session(model_->decoder(), pool_, 5);
  const std::string error = testing::ErrorOf([&] { session.Generate(prompt, Greedy(4), Accept); });
  EXPECT_NE(error.find("context of 5 tokens"), std::string::npos) << error;
}

TEST_F(StoriesSessionTest, TruncationKeepsBosAndTheEnd) {
  const std::vector<int32_t> prompt = {1, 10, 11, 12, 13, 14};
  EXPECT_EQ(TruncatePrompt(prompt, 3, true), (std::vector<int32_t>{1, 13, 14}));
  EXPECT_EQ(TruncatePrompt(prompt, 3, false), (std::vector<int32_t>{12, 13, 14}));
  EXPECT_EQ(TruncatePrompt(prompt, 10, true), prompt);
  EXPECT_THROW(TruncatePrompt(prompt, 1, true), Error);
}

TEST_F(StoriesSessionTest, CallerCanStopAndSeedMakesSamplingReproducible) {
  GenerationOptions options = Greedy(30);
  options.sampling = {.temperature = 1.0f, .top_k = 40, .top_p = 0.9f, .seed = 11};
  const std::vector<int32_t> prompt = Encode("The cat");
  Session first(model_->decoder(), pool_, 512);
  Session second(model_->decoder(), pool_, 512);
  const auto a = first.Generate(prompt, options, Accept).tokens;
  const auto b = second.Generate(prompt, options, Accept).tokens;
  EXPECT_EQ(a, b);
  Session stopped(model_->decoder(), pool_, 512);
  int seen = 0;
  const auto result = stopped.Generate(prompt, options, [&](int32_t) { return ++seen < 3; });
  EXPECT_EQ(result.stop_reason, StopReason::kCaller);
  EXPECT_EQ(result.tokens, std::vector<int32_t>(a.begin(), a.begin() + 3));
}

TEST_F(StoriesSessionTest, StopTokenEndsGeneration) {
  GenerationOptions options = Greedy(40);
  Session reference(model_->decoder(), pool_, 512);
  const std::vector<int32_t> prompt = Encode("Once upon a time");
  const auto free_run = reference.Generate(prompt, options, Accept).tokens;
  options.stop_token_ids = {free_run[5]};
  Session session(model_->decoder(), pool_, 512);
  const auto result = session.Generate(prompt, options, Accept);
  EXPECT_EQ(result.stop_reason, StopReason::kStopToken);
  EXPECT_EQ(result.tokens.back(), free_run[5]);
  EXPECT_LE(result.tokens.size(), 6u);
}

}  // namespace
}  // namespace lightvlm
