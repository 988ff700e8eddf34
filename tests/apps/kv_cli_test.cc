// `lightvlm run --kv`: bad policy flags end with a clear message and exit code 1; --verbose
// reports each layer's cache and the peak.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

testing::CliResult RunWithKv(const std::vector<std::string>& kv_args) {
  std::vector<std::string> args = {
      "run", "-m", testing::kStoriesDir.string(), "-p", "Once upon a time", "-n", "40", "-v"};
  args.insert(args.end(), kv_args.begin(), kv_args.end());
  return testing::RunCli(args);
}

TEST(KvCliTest, BadPolicyFlagsFailClearly) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--kv", "lightvlm", "--kv-budget", "10"}, "--kv-budget (10) must hold"},
      {{"--kv", "streaming", "--kv-window", "0"}, "--kv-window must be at least 1"},
      {{"--kv", "h2o", "--kv-interval", "-5"}, "--kv-interval must not be negative"},
  };
  for (const auto& [args, message] : cases) {
    const testing::CliResult result = RunWithKv(args);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
}

TEST(KvCliTest, VerboseReportsEachLayersCacheAndThePeak) {
  // 5 layers, each at its budget of 16 entries after the last step: 16 * (2 * 32 * e + 8) bytes
  // with e bytes a key or value element, 2 in the default bf16 cache and 4 in f32. The peak is
  // measured after each forward pass, before eviction: 17 entries in 5 layers.
  const struct {
    std::string dtype;
    int layer_bytes, peak_bytes;
  } cases[] = {{"bf16", 2176, 11560}, {"f32", 4224, 22440}};
  for (const auto& [dtype, layer_bytes, peak_bytes] : cases) {
    const testing::CliResult result =
        RunWithKv({"--kv", "lightvlm", "--kv-budget", "16", "--kv-window", "4", "--kv-interval",
                   "1", "--kv-dtype", dtype});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    for (int layer = 0; layer < 5; ++layer) {
      EXPECT_NE(result.err.find(
                    StrCat("kv cache: layer ", layer, ": 16 entries, ", layer_bytes, " bytes")),
                std::string::npos)
          << dtype << ": " << result.err;
    }
    EXPECT_NE(result.err.find(StrCat("peak ", peak_bytes, " bytes")), std::string::npos)
        << dtype << ": " << result.err;
  }
}

// kvfidelity --instructions answers every line of the file in one batch and reports each
// instruction's agreement and perplexity; a file without instructions is an error naming it.
TEST(KvCliTest, KvFidelityAnswersEachInstructionOfAFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "lightvlm_kv_cli";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "instructions.txt";
  std::ofstream(file) << "Tell me a story about a cat.\n\nWhat is the sky like?\n";
  const testing::CliResult result = testing::RunCli(
      {"kvfidelity", "-m", testing::kStoriesDir.string(), "--instructions", file.string(), "-n",
       "24", "--kv", "streaming", "--kv-budget", "12", "--kv-window", "8", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json["prompts"].size(), 2u);
  ASSERT_EQ(json["rows"].size(), 2u);
  EXPECT_EQ(json["rows"][0]["policy"], "none");
  EXPECT_EQ(json["rows"][0]["agreements"], nlohmann::json::array({1.0, 1.0}));
  EXPECT_EQ(json["rows"][1]["policy"], "streaming");
  EXPECT_EQ(json["rows"][1]["budget"], 12);
  ASSERT_EQ(json["rows"][1]["perplexities"].size(), 2u);
  for (const auto& perplexity : json["rows"][1]["perplexities"]) EXPECT_GT(perplexity, 1.0);

  // Two 400-token answers' caches, full, would hold more than 100000 bytes.
  const testing::CliResult too_big =
      testing::RunCli({"kvfidelity", "-m", testing::kStoriesDir.string(), "--instructions",
                       file.string(), "-n", "400", "--max-kv-bytes", "100000"});
  EXPECT_EQ(too_big.exit_code, 1) << too_big.err;
  EXPECT_NE(too_big.err.find("--max-kv-bytes"), std::string::npos) << too_big.err;

  std::ofstream(file) << "\n  \n";
  const testing::CliResult empty = testing::RunCli(
      {"kvfidelity", "-m", testing::kStoriesDir.string(), "--instructions", file.string()});
  EXPECT_EQ(empty.exit_code, 1) << empty.err;
  EXPECT_NE(empty.err.find(file.string() + ": no instructions"), std::string::npos) << empty.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lightvlm
