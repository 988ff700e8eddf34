// The prefill bench on the tiny LLaVA fixture (tests/fixtures/llava, real image tokens) and the
// text-only stories260k model: a comparison with a second configuration fills its fields row by
// row, and --prompt-tokens lengthens the prompt to at least the tokens asked for. Timings are not
// asserted; the arithmetic on them is.
#include "eval/bench.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_files.h"

namespace lightvlm {
namespace {

const std::string kLlavaDir =
    (std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures" / "llava" / "model")
        .string();

BenchOptions Quick(const std::string& model_dir) {
  BenchOptions options;
  options.model_dir = model_dir;
  options.budgets = {1.0, 0.5};
  options.repeats = 2;
  options.warmup = 1;
  options.load.weight_dtype = DType::kF32;
  options.threads = 1;
  options.measure_ceilings = false;
  return options;
}

// --budgets 1 0.5 --compare "--dtype int8 --budgets 1 0.35": row i of B beside row i of A.
TEST(BenchTest, ComparisonFillsEveryRow) {
  const BenchOptions options = Quick(kLlavaDir);
  BenchOptions other = options;
  other.load.weight_dtype = DType::kI8;
  other.budgets = {1.0, 0.35};
  const BenchReport report = RunPrefillBench(options, {{"--dtype int8 --budgets 1 0.35", other}});
  EXPECT_EQ(report.compare, "--dtype int8 --budgets 1 0.35");
  EXPECT_FALSE(report.compare_shares_model);
  EXPECT_GT(report.image_tokens, 0);
  EXPECT_EQ(report.compare_prompt_tokens, report.prompt_tokens);
  EXPECT_GT(report.compare_vision_ms, 0);
  ASSERT_EQ(report.rows.size(), 2u);
  EXPECT_EQ(report.rows[0].compare_method, "none");
  EXPECT_EQ(report.rows[1].compare_method, "lightvlm");
  EXPECT_DOUBLE_EQ(report.rows[1].compare_keep, 0.35);
  for (const BenchRow& row : report.rows) {
    EXPECT_GT(row.compare_prefill_ms, 0);
    EXPECT_DOUBLE_EQ(row.compare_ratio, row.compare_prefill_ms / row.prefill_ms);
  }
  const std::string text = FormatBenchReport(report);
  EXPECT_NE(text.find("--compare \"--dtype int8 --budgets 1 0.35\""), std::string::npos) << text;
  EXPECT_NE(text.find("ratio = B's prefill_ms / A's"), std::string::npos) << text;
  const nlohmann::json json = BenchReportJson(report);
  EXPECT_EQ(json["compare"], "--dtype int8 --budgets 1 0.35");
  EXPECT_EQ(json["rows"][1]["compare_ratio"], report.rows[1].compare_ratio);
}

TEST(BenchTest, ComparisonsMustPairTheirBudgets) {
  const BenchOptions options = Quick(testing::kStoriesDir.string());
  BenchOptions other = options;
  other.budgets = {1.0};
  const std::string error = testing::ErrorOf([&] {
    RunPrefillBench(options, {{"--budgets 1", other}});
  });
  EXPECT_NE(error.find("--compare \"--budgets 1\" gives 1 budgets"), std::string::npos) << error;
}

// On a text-only model the prompt is all text; with an image, its tokens count too.
TEST(BenchTest, PromptTokensLengthenThePrompt) {
  BenchOptions options = Quick(testing::kStoriesDir.string());
  options.budgets = {1.0};
  const int64_t plain = RunPrefillBench(options).prompt_tokens;
  options.prompt_tokens = plain + 100;
  const BenchReport longer = RunPrefillBench(options);
  EXPECT_EQ(longer.image_tokens, 0);
  EXPECT_GE(longer.prompt_tokens, plain + 100);
  options.prompt_tokens = plain;
  EXPECT_EQ(RunPrefillBench(options).prompt_tokens, plain);
  options.prompt_tokens = plain - 1;
  const std::string error = testing::ErrorOf([&] { RunPrefillBench(options); });
  EXPECT_NE(error.find("--prompt-tokens " + std::to_string(plain - 1) +
                       " is below the plain prompt's " + std::to_string(plain)),
            std::string::npos)
      << error;

  BenchOptions image = Quick(kLlavaDir);
  image.budgets = {1.0};
  image.prompt_tokens = 700;
  const BenchReport report = RunPrefillBench(image);
  EXPECT_GT(report.image_tokens, 0);
  EXPECT_GE(report.prompt_tokens, 700);
}

}  // namespace
}  // namespace lightvlm
