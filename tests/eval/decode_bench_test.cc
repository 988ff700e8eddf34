// The decode bench's arithmetic on the real stories260k model (float32 weights): the bytes each
// step reads (weights once, every live KV entry of every sequence), the live entries, and the
// predicted speedup from those bytes, and what a comparison with a second configuration reports.
// Timings are not asserted.
#include "eval/decode_bench.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "engine/model.h"
#include "eval/cost_model.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// Bytes of the decoder's matrices (lm_head included) and their output rows, on stories260k.
struct Matrices {
  double weights = 0;
  double rows = 0;
};

Matrices StoriesMatrices() {
  const LlmConfig config = LoadModel(testing::kStoriesDir.string()).config();
  const double h = config.hidden_size;
  return {config.num_layers * (h * config.q_dim() * 2 + h * config.kv_dim() * 2 +
                               3 * h * config.intermediate_size) +
              h * config.vocab_size,
          config.num_layers * (config.q_dim() + 2.0 * config.kv_dim() + 2 * h +
                               2.0 * config.intermediate_size) +
              config.vocab_size};
}

DecodeBenchOptions SyntheticStories() {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"none"};
  options.synthetic_context = 8;
  options.steps = 3;
  options.warmup = 1;
  options.load.weight_dtype = DType::kF32;
  options.threads = 1;
  return options;
}

TEST(DecodeBenchTest, SyntheticStepsCountTheBytesTheyRead) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"streaming"};
  options.kv = {.budget = 8, .interval = 1};
  options.synthetic_context = 16;
  options.steps = 3;
  options.warmup = 1;
  options.batch = 2;
  options.load.weight_dtype = DType::kF32;
  options.threads = 1;
  const DecodeBenchReport report = RunDecodeBench(options);
  const LlmConfig config = LoadModel(options.model_dir).config();
  const double layers = config.num_layers;
  const double matrices = StoriesMatrices().weights;
  EXPECT_DOUBLE_EQ(report.weight_bytes, 4 * matrices);
  EXPECT_EQ(report.batch, 2);
  ASSERT_EQ(report.rows.size(), 2u);
  // The cache is bf16 by default: 2 bytes a key or value element, 8 for the token index.
  const double entry = 2.0 * config.kv_dim() * 2 + 8;
  EXPECT_DOUBLE_EQ(KvEntryBytes(config, DType::kBF16), entry);
  EXPECT_DOUBLE_EQ(KvEntryBytes(config, DType::kF32), 2.0 * config.kv_dim() * 4 + 8);

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
  options.load.weight_dtype = DType::kF32;
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

// --compare "--dtype int8": every step also runs on the int8 model, alternating; the int8
// model's bytes are one per weight plus a float32 scale per output row.
TEST(DecodeBenchTest, ComparesTwoDtypesStepByStep) {
  const DecodeBenchOptions options = SyntheticStories();
  DecodeBenchOptions int8 = options;
  int8.load.weight_dtype = DType::kI8;
  const DecodeBenchReport report = RunDecodeBench(options, {{"--dtype int8", int8}});
  const Matrices matrices = StoriesMatrices();
  EXPECT_EQ(report.compare, "--dtype int8");
  EXPECT_FALSE(report.compare_shares_model);
  EXPECT_DOUBLE_EQ(report.weight_bytes, 4 * matrices.weights);
  EXPECT_DOUBLE_EQ(report.compare_weight_bytes, matrices.weights + 4 * matrices.rows);
  EXPECT_EQ(report.compare_context, 8);
  EXPECT_EQ(report.compare_batch, 1);
  ASSERT_EQ(report.rows.size(), 1u);
  const DecodeBenchRow& row = report.rows[0];
  EXPECT_EQ(row.compare_policy, "none");
  EXPECT_GT(row.compare_step_ms, 0);
  EXPECT_DOUBLE_EQ(row.compare_tokens_per_s, 1000.0 / row.compare_step_ms);
  EXPECT_DOUBLE_EQ(row.compare_ratio, row.tokens_per_s / row.compare_tokens_per_s);
  EXPECT_GT(report.peak_rss_bytes, 0u);
  const std::string text = FormatDecodeBenchReport(report);
  EXPECT_NE(text.find("--compare \"--dtype int8\""), std::string::npos) << text;
  EXPECT_NE(text.find("ratio = A's tokens/s / B's"), std::string::npos) << text;
  const nlohmann::json json = DecodeBenchReportJson(report);
  EXPECT_EQ(json["compare"], "--dtype int8");
  EXPECT_EQ(json["rows"][0]["compare_ratio"], row.compare_ratio);
  EXPECT_FALSE(DecodeBenchReportJson(RunDecodeBench(options)).contains("compare"));
}

// --batch 3 --compare "--batch 1" on whole answers: one model for both, both prefill the prompt,
// then their steps alternate; the ratio is of the throughputs as reported.
TEST(DecodeBenchTest, ComparesTwoBatchesOnOneModel) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.policies = {"h2o"};
  options.answer_tokens = 6;
  options.batch = 3;
  options.load.weight_dtype = DType::kF32;
  options.threads = 1;
  DecodeBenchOptions single = options;
  single.batch = 1;
  const DecodeBenchReport report = RunDecodeBench(options, {{"--batch 1", single}});
  EXPECT_TRUE(report.compare_shares_model);
  EXPECT_DOUBLE_EQ(report.compare_weight_bytes, report.weight_bytes);
  EXPECT_EQ(report.compare_batch, 1);
  EXPECT_EQ(report.compare_context, report.context);
  ASSERT_EQ(report.rows.size(), 2u);
  for (const DecodeBenchRow& row : report.rows) {
    EXPECT_EQ(row.compare_policy, row.policy);
    EXPECT_DOUBLE_EQ(row.tokens_per_s, 3 * 1000.0 / row.step_ms);
    EXPECT_DOUBLE_EQ(row.compare_tokens_per_s, 1000.0 / row.compare_step_ms);
    EXPECT_DOUBLE_EQ(row.compare_ratio, row.tokens_per_s / row.compare_tokens_per_s);
  }
}

// Rows pair by index, so both configurations must time as many; and both decode the same way.
TEST(DecodeBenchTest, ComparisonsMustPairTheirRows) {
  DecodeBenchOptions options = SyntheticStories();
  options.policies = {"streaming"};
  DecodeBenchOptions two = options;
  two.policies = {"streaming", "h2o"};
  const std::string error = testing::ErrorOf([&] {
    RunDecodeBench(options, {{"--kv streaming h2o", two}});
  });
  EXPECT_NE(error.find("--compare \"--kv streaming h2o\" times 3 rows"), std::string::npos)
      << error;
  EXPECT_NE(error.find("first configuration 2"), std::string::npos) << error;

  DecodeBenchOptions answer = options;
  answer.synthetic_context = 0;
  answer.answer_tokens = 4;
  EXPECT_NE(testing::ErrorOf([&] {
              RunDecodeBench(options, {{"--answer-tokens 4", answer}});
            }).find("must keep the first configuration's mode"),
            std::string::npos);
}

// With the ceilings measured, each synthetic row's bytes per second is given as a share of the
// copy bound.
TEST(DecodeBenchTest, SyntheticRowsReadAsAShareOfTheCopyBound) {
  DecodeBenchOptions options = SyntheticStories();
  options.measure_ceilings = true;
  const DecodeBenchReport report = RunDecodeBench(options);
  ASSERT_GT(report.ceilings.copy_gbytes_s, 0);
  EXPECT_GT(report.ceilings.gemm_gflops, 0);
  const DecodeBenchRow& row = report.rows.front();
  const double gbytes = (report.weight_bytes + row.kv_bytes_per_step) / (row.step_ms * 1e6);
  EXPECT_DOUBLE_EQ(SyntheticGigabytesPerSecond(report, row), gbytes);
  const nlohmann::json json = DecodeBenchReportJson(report);
  EXPECT_DOUBLE_EQ(json["rows"][0]["copy_bound_share"].get<double>(),
                   gbytes / report.ceilings.copy_gbytes_s);
  EXPECT_NE(FormatDecodeBenchReport(report).find("machine ceilings: copy"), std::string::npos);
}

// A second configuration of none alone runs beside every row: each policy against none.
TEST(DecodeBenchTest, NoneAloneRunsBesideEveryRow) {
  DecodeBenchOptions options = SyntheticStories();
  options.policies = {"streaming", "h2o"};
  DecodeBenchOptions none = options;
  none.policies = {"none"};
  const DecodeBenchReport report = RunDecodeBench(options, {{"--kv none", none}});
  ASSERT_EQ(report.rows.size(), 3u);
  EXPECT_EQ(report.rows[1].policy, "streaming");
  EXPECT_EQ(report.rows[2].policy, "h2o");
  for (const DecodeBenchRow& row : report.rows) {
    EXPECT_EQ(row.compare_policy, "none");
    EXPECT_DOUBLE_EQ(row.compare_ratio, row.tokens_per_s / row.compare_tokens_per_s);
  }
}

// --prompt-tokens lengthens the answer's prompt; it means nothing to a synthetic cache.
TEST(DecodeBenchTest, PromptTokensLengthenTheAnswersPrompt) {
  DecodeBenchOptions options;
  options.model_dir = testing::kStoriesDir.string();
  options.answer_tokens = 3;
  options.prompt_tokens = 50;
  options.load.weight_dtype = DType::kF32;
  options.threads = 1;
  EXPECT_GE(RunDecodeBench(options).context, 50);

  DecodeBenchOptions synthetic = SyntheticStories();
  synthetic.prompt_tokens = 50;
  EXPECT_NE(testing::ErrorOf([&] { RunDecodeBench(synthetic); }).find("--prompt-tokens"),
            std::string::npos);
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
