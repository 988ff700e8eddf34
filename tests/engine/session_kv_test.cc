// KV cache policies inside the engine: `none` bit-identical to no policy; every policy holds its
// budget, its sinks, its recent window and the entry being written after every step, on the real
// stories260k model; and with prefill merging, image entries removed from deep layers stay
// removed while decoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "base/error.h"
#include "engine/model.h"
#include "engine/session.h"
#include "io/image.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

bool Holds(const LayerKvCache& cache, int64_t token_index) {
  const int64_t* begin = cache.token_index();
  return std::find(begin, begin + cache.size(), token_index) != begin + cache.size();
}

class StoriesKvTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new Model(LoadModel(testing::kStoriesDir)); }
  static void TearDownTestSuite() { delete model_; }

  std::vector<int32_t> LongPrompt() {
    return model_->tokenizer->Encode(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
        "park with her friends. One day, she saw a big red ball",
        /*add_special=*/true);
  }

  static Model* model_;
  ThreadPool pool_{2};
};
Model* StoriesKvTest::model_ = nullptr;

TEST_F(StoriesKvTest, NoneIsBitIdenticalToThePlainEngine) {
  const auto none = MakeKvPolicy("none", {.budget = 8, .window = 4});
  Session plain(model_->decoder(), pool_, 512);
  Session with_none(model_->decoder(), pool_, 512);
  with_none.SetKvPolicy(none.get());
  std::vector<float> a = plain.Prefill(LongPrompt()), b = with_none.Prefill(LongPrompt());
  ASSERT_EQ(a, b);
  for (int step = 0; step < 100; ++step) {
    const auto next = static_cast<int32_t>(std::max_element(a.begin(), a.end()) - a.begin());
    a = plain.Decode(next);
    b = with_none.Decode(next);
    ASSERT_EQ(a, b) << "step " << step;
  }
  for (int64_t layer = 0; layer < plain.cache().num_layers(); ++layer) {
    EXPECT_EQ(with_none.cache().layer(layer).size(), plain.cache().layer(layer).size());
  }
  EXPECT_EQ(with_none.peak_kv_bytes(), plain.cache().bytes());
}

// The bench's synthetic prompt: every layer gets `tokens` entries of seeded random keys and values
// with consecutive token indices, the session's length moves on, and the policy compresses the
// cache as after a real prefill.
TEST_F(StoriesKvTest, PrefillSyntheticFillsEveryLayerAndLetsThePolicyCompress) {
  Session plain(model_->decoder(), pool_, 64), same_seed(model_->decoder(), pool_, 64);
  plain.PrefillSynthetic(20, /*seed=*/3);
  same_seed.PrefillSynthetic(20, /*seed=*/3);
  EXPECT_EQ(plain.length(), 20);
  const int64_t kv_dim = model_->config().kv_dim();
  for (int64_t l = 0; l < plain.cache().num_layers(); ++l) {
    const LayerKvCache& cache = plain.cache().layer(l);
    ASSERT_EQ(cache.size(), 20);
    for (int64_t t = 0; t < 20; ++t) EXPECT_EQ(cache.token_index()[t], t);
    const LayerKvCache& twin = same_seed.cache().layer(l);
    for (int64_t t = 0; t < 20; ++t) EXPECT_EQ(cache.Key(t), twin.Key(t));
    EXPECT_EQ(cache.Key(0).size(), static_cast<size_t>(kv_dim));
    EXPECT_NE(cache.Key(0)[0], cache.Value(0)[0]);
  }
  EXPECT_EQ(plain.peak_kv_bytes(), plain.cache().bytes());
  // A decode step runs on top of it, at the next position.
  plain.Decode(1);
  EXPECT_EQ(plain.length(), 21);
  EXPECT_EQ(plain.cache().layer(0).token_index()[20], 20);

  const auto streaming = MakeKvPolicy("streaming", {.budget = 8});
  Session compressed(model_->decoder(), pool_, 64);
  compressed.SetKvPolicy(streaming.get());
  compressed.PrefillSynthetic(20, /*seed=*/3);
  const LayerKvCache& layer = compressed.cache().layer(0);
  ASSERT_EQ(layer.size(), 8);
  EXPECT_EQ(std::vector<int64_t>(layer.token_index(), layer.token_index() + 8),
            (std::vector<int64_t>{0, 1, 2, 3, 16, 17, 18, 19}));
  EXPECT_THROW(compressed.PrefillSynthetic(60, 1), Error);
}

struct PolicyCase {
  std::string name;
  KvPolicyOptions options;
  friend void PrintTo(const PolicyCase& c, std::ostream* out) {
    *out << c.name << " budget " << c.options.budget << " sinks " << c.options.sinks << " window "
         << c.options.window << " interval " << c.options.interval;
  }
};

class EveryPolicyTest : public StoriesKvTest, public ::testing::WithParamInterface<PolicyCase> {};

TEST_P(EveryPolicyTest, BudgetSinksWindowAndNewestHoldAtEveryStep) {
  const auto policy = MakeKvPolicy(GetParam().name, GetParam().options);
  Session session(model_->decoder(), pool_, 512);
  session.SetKvPolicy(policy.get());
  GenerationOptions options;
  options.max_new_tokens = 120;
  int64_t steps = -1;  // decode passes before the token the callback sees
  size_t peak = 0;
  const auto result = session.Generate(LongPrompt(), options, [&](int32_t) {
    ++steps;
    const int64_t length = session.length();
    const int64_t since = policy->interval() > 0 ? steps % policy->interval() : steps;
    for (int64_t l = 0; l < session.cache().num_layers(); ++l) {
      const LayerKvCache& cache = session.cache().layer(l);
      EXPECT_LE(cache.size(), policy->Budget(length) + since) << "layer " << l << " step " << steps;
      for (int64_t t = 0; t < policy->sinks(); ++t) EXPECT_TRUE(Holds(cache, t)) << "sink " << t;
      for (int64_t t = length - policy->window(length); t < length; ++t) {
        EXPECT_TRUE(Holds(cache, t)) << "recent " << t << " layer " << l << " step " << steps;
      }
      EXPECT_EQ(cache.token_index()[cache.size() - 1], length - 1) << "the newest entry";
    }
    peak = std::max(peak, session.cache().bytes());
    return true;
  });
  EXPECT_EQ(result.tokens.size(), 120u);
  // Compression did happen (snapkv's only after the prompt), and the peak is what the cache held
  // at most.
  EXPECT_LE(session.cache().layer(0).size(), policy->Budget(session.length()) + 120);
  EXPECT_LT(session.cache().layer(0).size(), session.length());
  EXPECT_GE(session.peak_kv_bytes(), peak);
}

INSTANTIATE_TEST_SUITE_P(
    Policies, EveryPolicyTest,
    ::testing::Values(
        PolicyCase{"lightvlm", {.budget = 24, .sinks = 4, .window = 8, .interval = 4}},
        PolicyCase{"lightvlm", {.budget = 20, .sinks = 2, .window = 1, .interval = 1}},
        PolicyCase{"streaming", {.budget = 12}}, PolicyCase{"h2o", {.budget = 16}},
        PolicyCase{"h2o", {}}, PolicyCase{"snapkv", {.budget = 20, .window = 8}}),
    [](const auto& info) { return info.param.name + std::to_string(info.index); });

class LlavaKvTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Model(LoadModel((testing::kFixturesDir / "llava" / "model").string()));
  }
  static void TearDownTestSuite() { delete model_; }

  static Model* model_;
  ThreadPool pool_{2};
};
Model* LlavaKvTest::model_ = nullptr;

// The 2-layer LLaVA decoder merges to 16 image tokens before layer 1; compression then keeps
// within layer 1 only image entries merging kept, and the default budget counts those 16.
TEST_F(LlavaKvTest, ImageEntriesRemovedByMergingStayRemoved) {
  std::vector<ImageEmbeddings> images;
  images.push_back(model_->language_model->EncodeImage(
      pool_, LoadImage((testing::kFixturesDir / "llava" / "image.png").string())));
  const std::string text = model_->language_model->FormatPrompt("What is in the picture?", 1);
  const Prompt prompt = AssemblePrompt(model_->tokenizer->Encode(text, true), images,
                                       model_->language_model->image_token_id());
  const int64_t image_start = prompt.images[0].start, image_end = image_start + 576;
  const auto image_entries = [&](const LayerKvCache& cache) {
    std::set<int64_t> found;
    for (int64_t i = 0; i < cache.size(); ++i) {
      const int64_t t = cache.token_index()[i];
      if (t >= image_start && t < image_end) found.insert(t);
    }
    return found;
  };
  ReducerOptions reduction;
  reduction.budget.final_tokens = 16;
  const auto reducer = MakeTokenReducer("lightvlm", reduction);
  for (const KvPolicyOptions& kv :
       {KvPolicyOptions{}, KvPolicyOptions{.budget = 30, .window = 8, .interval = 2}}) {
    const auto policy = MakeKvPolicy("lightvlm", kv);
    Session session(model_->decoder(), pool_, 1024);
    session.SetTokenReducer(reducer.get());
    session.SetKvPolicy(policy.get());
    GenerationOptions options;
    options.max_new_tokens = 40;
    std::set<int64_t> merged;  // layer 1's image entries right after prefill
    int64_t steps = -1;
    session.Generate(prompt, options, [&](int32_t) {
      ++steps;
      const std::set<int64_t> now = image_entries(session.cache().layer(1));
      if (merged.empty()) merged = now;
      EXPECT_TRUE(std::includes(merged.begin(), merged.end(), now.begin(), now.end()));
      EXPECT_LE(session.cache().layer(0).size(),
                policy->Budget(session.length()) + steps % policy->interval());
      return true;
    });
    EXPECT_LE(merged.size(), 16u);
    if (kv.budget < 0) {
      EXPECT_EQ(merged.size(), 16u);
      EXPECT_EQ(policy->Budget(session.length()), prompt.size() - 576 + 16 + 256);
    }
  }
}

}  // namespace
}  // namespace lightvlm
