// kvfidelity on the real stories260k model: the full cache agrees with itself, a policy whose
// budget holds the whole sequence agrees exactly, and one that evicts reports its budget and a
// smaller peak cache; perplexities are those of the full-cache model.
#include "eval/kv_fidelity.h"

#include <gtest/gtest.h>

#include "support/test_files.h"

namespace lightvlm {
namespace {

TEST(KvFidelityTest, ComparesEachPolicyWithTheFullCache) {
  const Model model = LoadModel(testing::kStoriesDir.string());
  ThreadPool pool(2);
  const std::vector<std::vector<int32_t>> prompts = {
      model.tokenizer->Encode("Once upon a time", /*add_special=*/true)};
  const std::vector<KvFidelityRow> rows = MeasureKvFidelity(
      model, pool, prompts, {"snapkv", "streaming"}, {.budget = 12, .window = 8}, 40);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].policy, "none");
  EXPECT_EQ(rows[0].budget, 0);
  EXPECT_DOUBLE_EQ(rows[0].agreement, 1.0);
  EXPECT_GT(rows[0].perplexity, 1.0);
  EXPECT_FALSE(rows[0].texts[0].empty());
  // snapkv compresses the prompt only, and this prompt is under its budget: the full cache.
  EXPECT_EQ(rows[1].policy, "snapkv");
  EXPECT_DOUBLE_EQ(rows[1].agreement, 1.0);
  EXPECT_DOUBLE_EQ(rows[1].perplexity, rows[0].perplexity);
  EXPECT_EQ(rows[1].peak_kv_bytes, rows[0].peak_kv_bytes);
  // streaming keeps 12 entries (+ up to 16 between compressions) of the 45-token sequence.
  EXPECT_EQ(rows[2].policy, "streaming");
  EXPECT_EQ(rows[2].budget, 12);
  EXPECT_LT(rows[2].peak_kv_bytes, rows[0].peak_kv_bytes);
  EXPECT_GE(rows[2].agreement, 0.0);
  EXPECT_LE(rows[2].agreement, 1.0);
  EXPECT_GT(rows[2].perplexity, 1.0);
}

// Several prompts decode together, each against its own full-cache answer: a policy that keeps
// everything agrees with every one, and each prompt gets its own perplexity.
TEST(KvFidelityTest, MeasuresEachPromptOfABatch) {
  const Model model = LoadModel(testing::kStoriesDir.string());
  ThreadPool pool(2);
  const std::vector<std::vector<int32_t>> prompts = {
      model.tokenizer->Encode("Once upon a time", /*add_special=*/true),
      model.tokenizer->Encode("The little dog", /*add_special=*/true),
      model.tokenizer->Encode("One day, Lily went to the park", /*add_special=*/true)};
  const std::vector<KvFidelityRow> rows =
      MeasureKvFidelity(model, pool, prompts, {"streaming"}, {.budget = 200, .window = 8}, 30);
  ASSERT_EQ(rows.size(), 2u);
  for (const KvFidelityRow& row : rows) {
    ASSERT_EQ(row.agreements.size(), 3u);
    ASSERT_EQ(row.perplexities.size(), 3u);
    ASSERT_EQ(row.texts.size(), 3u);
    EXPECT_DOUBLE_EQ(row.agreement, 1.0) << row.policy;
    for (size_t b = 0; b < 3; ++b) {
      EXPECT_DOUBLE_EQ(row.perplexities[b], rows[0].perplexities[b]) << row.policy << " " << b;
    }
  }
  EXPECT_NE(rows[0].texts[0], rows[0].texts[1]);
  EXPECT_NE(rows[0].perplexities[0], rows[0].perplexities[1]);
}

}  // namespace
}  // namespace lightvlm
