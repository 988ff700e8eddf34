// `lightvlm run --kv`: bad policy flags end with a clear message and exit code 1; --verbose
// reports each layer's cache and the peak.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
  const testing::CliResult result = RunWithKv(
      {"--kv", "lightvlm", "--kv-budget", "16", "--kv-window", "4", "--kv-interval", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // 5 layers, each at its budget of 16 entries after the last step: 16 * (2 * 32 * 4 + 8) bytes.
  for (int layer = 0; layer < 5; ++layer) {
    EXPECT_NE(result.err.find("kv cache: layer " + std::to_string(layer) +
                              ": 16 entries, 4224 "
                              "bytes"),
              std::string::npos)
        << result.err;
  }
  // The peak is measured after each forward pass, before eviction: 17 entries in 5 layers.
  EXPECT_NE(result.err.find("peak 22440 bytes"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace lightvlm
