// The KV cache's dtype in the engine, on the real stories260k model: a bf16 cache (the default)
// leaves a first prompt's logits exactly as a float32 one does, follows it closely in decode,
// holds half the key and value bytes, and compresses like it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/model.h"
#include "engine/session.h"
#include "reduce/kv_policy.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

int32_t Greedy(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

class StoriesKvDTypeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new Model(LoadModel(testing::kStoriesDir)); }
  static void TearDownTestSuite() { delete model_; }

  std::vector<int32_t> Prompt() const {
    return model_->tokenizer->Encode("Once upon a time, there was a little girl named Lily.",
                                     /*add_special=*/true);
  }

  static Model* model_;
  ThreadPool pool_{2};
};
Model* StoriesKvDTypeTest::model_ = nullptr;

// A prefill into an empty cache attends to its own float32 keys and values.
TEST_F(StoriesKvDTypeTest, FirstPromptLogitsDoNotDependOnTheCacheDType) {
  Session f32(model_->decoder(), pool_, 256, DType::kF32);
  Session bf16(model_->decoder(), pool_, 256, DType::kBF16);
  EXPECT_EQ(bf16.cache().layer(0).dtype(), DType::kBF16);
  EXPECT_EQ(f32.Prefill(Prompt()), bf16.Prefill(Prompt()));
}

// Decode reads the rounded cache: fed the same tokens, the logits stay within a few tenths of
// the float32 cache's (out of a spread of tens), and greedy decoding from each picks the same
// 150 tokens.
TEST_F(StoriesKvDTypeTest, Bf16DecodeFollowsTheFloat32Cache) {
  Session f32(model_->decoder(), pool_, 256, DType::kF32);
  Session forced(model_->decoder(), pool_, 256, DType::kBF16);
  Session free(model_->decoder(), pool_, 256, DType::kBF16);
  std::vector<float> a = f32.Prefill(Prompt()), b = forced.Prefill(Prompt());
  std::vector<float> c = free.Prefill(Prompt());
  double worst = 0, spread = 0;
  int agree = 0;
  constexpr int kSteps = 150;
  for (int step = 0; step < kSteps; ++step) {
    const int32_t next = Greedy(a);
    agree += Greedy(c) == next;
    a = f32.Decode(next);
    b = forced.Decode(next);
    c = free.Decode(Greedy(c));
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    const auto [low, high] = std::minmax_element(a.begin(), a.end());
    spread = std::max(spread, double(*high - *low));
  }
  EXPECT_GT(worst, 0) << "the bf16 cache must be read as bf16";
  EXPECT_LT(worst, 0.25) << "logits spread over " << spread;
  EXPECT_GT(spread, 10);
  EXPECT_EQ(agree, kSteps);
}

// A full cache's peak holds 2-byte keys and values beside 8-byte token indices.
TEST_F(StoriesKvDTypeTest, Bf16HalvesTheKeyAndValueBytes) {
  Session f32(model_->decoder(), pool_, 256, DType::kF32);
  Session bf16(model_->decoder(), pool_, 256);
  for (Session* session : {&f32, &bf16}) {
    const std::vector<float> logits = session->Prefill(Prompt());
    session->Decode(Greedy(logits));
  }
  const LlmConfig& config = model_->config();
  const auto entries = static_cast<size_t>(f32.length() * config.num_layers);
  EXPECT_EQ(f32.peak_kv_bytes(), entries * (2 * config.kv_dim() * 4 + 8));
  EXPECT_EQ(bf16.peak_kv_bytes(), entries * (2 * config.kv_dim() * 2 + 8));
}

// Compression moves bf16 rows with their token indices: every entry h2o keeps in layer 0 (whose
// keys depend on the token and its position only) is the entry an uncompressed bf16 cache holds
// for that token.
TEST_F(StoriesKvDTypeTest, PoliciesCompressABf16Cache) {
  const auto policy = MakeKvPolicy("h2o", {.budget = 16});
  Session compressed(model_->decoder(), pool_, 256);
  Session full(model_->decoder(), pool_, 256);
  compressed.SetKvPolicy(policy.get());
  std::vector<float> logits = compressed.Prefill(Prompt());
  full.Prefill(Prompt());
  for (int step = 0; step < 40; ++step) {
    const int32_t next = Greedy(logits);
    logits = compressed.Decode(next);
    full.Decode(next);
  }
  const LayerKvCache& kept = compressed.cache().layer(0);
  const LayerKvCache& all = full.cache().layer(0);
  ASSERT_EQ(all.size(), full.length());
  ASSERT_LE(kept.size(), policy->Budget(compressed.length()) + policy->interval());
  ASSERT_LT(kept.size(), all.size());
  for (int64_t row = 0; row < kept.size(); ++row) {
    const int64_t token = kept.token_index()[row];
    EXPECT_EQ(kept.Key(row), all.Key(token)) << "token " << token;
    EXPECT_EQ(kept.Value(row), all.Value(token)) << "token " << token;
  }
}

}  // namespace
}  // namespace lightvlm
