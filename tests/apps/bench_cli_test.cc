// `lightvlm bench` as a user runs it, on the real stories260k checkpoint: --compare "FLAGS" parses
// FLAGS with the bench's own flags on top of the first configuration, fails clearly on bad ones,
// and --gen is --answer-tokens.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

using testing::CliResult;
using testing::RunCli;

std::vector<std::string> Bench(const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"bench",   "-m", testing::kStoriesDir.string(), "-t", "1",
                                   "--dtype", "f32"};
  args.insert(args.end(), flags.begin(), flags.end());
  return args;
}

TEST(BenchCliTest, ComparesABatchOnTheSameModel) {
  const CliResult result = RunCli(Bench({"--decode-context", "8", "--steps", "2", "--kv", "none",
                                         "--batch", "2", "--compare", "--batch 1", "--json"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["compare"], "--batch 1");
  EXPECT_EQ(json["batch"], 2);
  EXPECT_EQ(json["compare_batch"], 1);
  EXPECT_EQ(json["compare_shares_model"], true);
  ASSERT_EQ(json["rows"].size(), 1u);
  const auto& row = json["rows"][0];
  EXPECT_DOUBLE_EQ(row["compare_ratio"].get<double>(),
                   row["tokens_per_s"].get<double>() / row["compare_tokens_per_s"].get<double>());
}

TEST(BenchCliTest, ComparesAPrefillWithAnotherDtypeAsText) {
  const CliResult result = RunCli(Bench({"--budgets", "1", "--repeats", "1", "--no-ceilings",
                                         "--prompt-tokens", "40", "--compare", "--dtype int8"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("B_prefill_ms  ratio"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("--compare \"--dtype int8\" on top"), std::string::npos) << result.out;
}

TEST(BenchCliTest, GenIsAnswerTokens) {
  const CliResult result = RunCli(Bench({"--gen", "3", "--kv", "none", "--json"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["answer_tokens"], 3);
}

// The scoring flags are read as run and eval read them, and a bad value fails naming the flag, on
// the command line and inside --compare.
TEST(BenchCliTest, ScoringFlagsAreCheckedAsInRun) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--query-tokens", "instruction"},
        std::vector<std::string>{"--compare", "--query-tokens 0"}}) {
    std::vector<std::string> args = {"--budgets", "1", "--repeats", "1", "--no-ceilings"};
    args.insert(args.end(), flags.begin(), flags.end());
    const CliResult result = RunCli(Bench(args));
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("--query-tokens must be"), std::string::npos) << result.err;
  }
  const CliResult weights =
      RunCli(Bench({"--budgets", "1", "--repeats", "1", "--no-ceilings", "--query-weights", "x"}));
  EXPECT_EQ(weights.exit_code, 1);
  EXPECT_NE(weights.err.find("--query-weights"), std::string::npos) << weights.err;
  const CliResult good = RunCli(Bench({"--budgets", "1", "--repeats", "1", "--no-ceilings",
                                       "--query-tokens", "8", "--query-weights", "mass"}));
  EXPECT_EQ(good.exit_code, 0) << good.err;
}

TEST(BenchCliTest, BadCompareFlagsFailNamingThem) {
  for (const std::string flags : {"--dtype fp8", "--no-such-flag", "--batch"}) {
    const CliResult result =
        RunCli(Bench({"--decode-context", "8", "--steps", "1", "--compare", flags}));
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("--compare \"" + flags + "\""), std::string::npos) << result.err;
  }
  const CliResult modes = RunCli(Bench({"--budgets", "1", "--compare", "--decode-context 8"}));
  EXPECT_EQ(modes.exit_code, 1);
  EXPECT_NE(modes.err.find("must keep the first configuration's mode"), std::string::npos)
      << modes.err;
  const CliResult rows =
      RunCli(Bench({"--decode-context", "8", "--steps", "1", "--compare", "--kv streaming h2o"}));
  EXPECT_EQ(rows.exit_code, 1);
  EXPECT_NE(rows.err.find("rows are paired by index"), std::string::npos) << rows.err;
}

// --max-kv-bytes holds as in run, before any cache is created. stories260k: 5 layers x 4 KV heads
// x 8 head dim, 680 bytes a token in bf16. Decode: 2 sequences of 8 + 8 warm-up + 2 timed steps
// + 1 = 19 tokens each, 25840 bytes.
TEST(BenchCliTest, KvCacheLimitHoldsBeforeTheCachesAreCreated) {
  const std::vector<std::string> decode = {
      "--decode-context", "8", "--steps", "2", "--kv", "none", "--batch", "2", "--no-ceilings",
      "--max-kv-bytes"};
  std::vector<std::string> over = decode;
  over.push_back("25839");
  const CliResult refused = RunCli(Bench(over));
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("KV cache of 19 tokens (--decode-context + --warmup + --steps + 1) "
                             "x 5 layers x 4 KV heads x 8 head dim x 2 sequences can reach 25840 "
                             "bytes, over --max-kv-bytes 25839: lower --decode-context, --steps "
                             "or --batch or raise --max-kv-bytes"),
            std::string::npos)
      << refused.err;
  std::vector<std::string> fits = decode;
  fits.push_back("25840");
  const CliResult ran = RunCli(Bench(fits));
  EXPECT_EQ(ran.exit_code, 0) << ran.err;

  // Prefill: one cache of the prompt and one more token, over 1000 bytes with 2 tokens already.
  const CliResult prefill = RunCli(
      Bench({"--budgets", "1", "--repeats", "1", "--no-ceilings", "--max-kv-bytes", "1000"}));
  EXPECT_EQ(prefill.exit_code, 1) << prefill.err;
  EXPECT_NE(prefill.err.find(" tokens (the prompt and its first token) x 5 layers x 4 KV heads x "
                             "8 head dim can reach "),
            std::string::npos)
      << prefill.err;
  EXPECT_NE(prefill.err.find("over --max-kv-bytes 1000: lower --prompt-tokens or raise "
                             "--max-kv-bytes"),
            std::string::npos)
      << prefill.err;
}

}  // namespace
}  // namespace lightvlm
