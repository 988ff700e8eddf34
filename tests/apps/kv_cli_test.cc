// `lightvlm run --kv`: bad policy flags end with a clear message and exit code 1; --verbose
// reports each layer's cache and the peak.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

}  // namespace
}  // namespace lightvlm
