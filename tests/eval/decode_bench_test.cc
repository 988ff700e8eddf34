// The decode bench's arithmetic on the real stories260k model (float32 weights): the bytes each
// step reads (weights once, every live KV entry of every sequence), the live entries, and the
// predicted speedup from those bytes. Timings are not asserted.
#include "eval/decode_bench.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "engine/model.h"
#include "eval/cost_model.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

TEST(DecodeBenchTest, SyntheticStepsCountTheBytesTheyRead) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"streaming"};
  options.kv = {.budget = 8, .interval = 1};
  options.synthetic_context = 16;
  options.steps = 3;
  options.warmup = 1;
  options.batch = 2;
  options.weight_dtype = DType::kF32;
  options.threads = 1;
  const DecodeBenchReport report = RunDecodeBench(options);
  const LlmConfig config = LoadModel(options.model_dir).config();

  const double h = config.hidden_size, layers = config.num_layers;
  const double matrices = layers * (h * config.q_dim() * 2 + h * config.kv_dim() * 2 +
                                    3 * h * config.intermediate_size) +
                          h * config.vocab_size;
  EXPECT_DOUBLE_EQ(report.weight_bytes, 4 * matrices);
  EXPECT_EQ(report.batch, 2);
  ASSERT_EQ(report.rows.size(), 2u);
  const double entry = 2.0 * config.kv_dim() * 4 + 8;
  EXPECT_DOUBLE_EQ(KvEntryBytes(config), entry);

  // none: the timed steps read 16 + 1 (warm-up) + s entries already there plus their own, s = 0,
  // 1, 2: 19 on average per layer and sequence.
  const DecodeBenchRow& none = report.rows[0];
  EXPECT_EQ(none.policy, "none");
  EXPECT_DOUBLE_EQ(none.mean_live_entries, 19);
  EXPECT_DOUBLE_EQ(none.kv_bytes_per_step, 2 * layers * 19 * entry);
  // streaming at budget 8, evicting every step: 8 entries stay, each step reads them and its own.
  const DecodeBenchRow& streaming = report.rows[1];
  EXPECT_EQ(streaming.budget, 8);
  EXPECT_DOUBLE_EQ(streaming.mean_live_entries, 9);
  EXPECT_DOUBLE_EQ(streaming.kv_bytes_per_step, 2 * layers * 9 * entry);
  EXPECT_DOUBLE_EQ(streaming.predicted_speedup, (4 * matrices + none.kv_bytes_per_step) /
                                                    (4 * matrices + streaming.kv_bytes_per_step));
  for (const DecodeBenchRow& row : report.rows) {
    EXPECT_GT(row.step_ms, 0);
    EXPECT_DOUBLE_EQ(row.tokens_per_s, 2 * 1000.0 / row.step_ms);
  }
}

TEST(DecodeBenchTest, AnswersRunTheWholeLengthForEverySequence) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"h2o"};
  options.answer_tokens = 12;
  options.batch = 3;
  options.weight_dtype = DType::kF32;
  options.threads = 1;
  const DecodeBenchReport report = RunDecodeBench(options);
  EXPECT_FALSE(report.synthetic);
  EXPECT_EQ(report.steps, 12);
  ASSERT_EQ(report.rows.size(), 2u);
  for (const DecodeBenchRow& row : report.rows) {
    EXPECT_DOUBLE_EQ(row.step_ms, row.decode_ms / 12);
    EXPECT_GT(row.peak_kv_bytes, 0u);
  }
}

// --compare-dtype int8: every step also runs on the int8 model, alternating; the int8 model's
// bytes are one per weight plus a float32 scale per output row.
TEST(DecodeBenchTest, ComparesTwoDtypesStepByStep) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"none"};
  options.synthetic_context = 8;
  options.steps = 3;
  options.warmup = 1;
  options.weight_dtype = DType::kF32;
  options.compare_dtype = DType::kI8;
  options.threads = 1;
  const DecodeBenchReport report = RunDecodeBench(options);
  const LlmConfig config = LoadModel(options.model_dir).config();
  const double h = config.hidden_size;
  const double matrices = config.num_layers * (h * config.q_dim() * 2 + h * config.kv_dim() * 2 +
                                               3 * h * config.intermediate_size) +
                          h * config.vocab_size;
  const double rows = config.num_layers * (config.q_dim() + 2.0 * config.kv_dim() + 2 * h +
                                           2.0 * config.intermediate_size) +
                      config.vocab_size;
  EXPECT_EQ(report.compare_dtype, "I8");
  EXPECT_DOUBLE_EQ(report.compare_weight_bytes, matrices + 4 * rows);
  ASSERT_EQ(report.rows.size(), 1u);
  const DecodeBenchRow& row = report.rows[0];
  EXPECT_GT(row.compare_step_ms, 0);
  EXPECT_DOUBLE_EQ(row.compare_ratio, row.compare_step_ms / row.step_ms);
  EXPECT_GT(report.peak_rss_bytes, 0u);
  EXPECT_NE(FormatDecodeBenchReport(report).find("I8_ms"), std::string::npos);

  options.synthetic_context = 0;
  options.answer_tokens = 4;
  EXPECT_THROW(RunDecodeBench(options), Error);
}

TEST(DecodeBenchTest, RejectsABadBatch) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.synthetic_context = 8;
  options.batch = 0;
  EXPECT_THROW(RunDecodeBench(options), Error);
}

}  // namespace
}  // namespace lightvlm
