// `lightvlm chat` from piped stdin: turns, /image, /stats, /reset, and a bad turn that does not
// end the chat.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli.h"
#include "support/golden.h"

namespace lightvlm {
namespace {

TEST(ChatCliTest, TurnsImagesStatsAndResetFromStdin) {
  const std::string photo =
      (std::filesystem::path(LIGHTVLM_SHARED_DIR) / "images" / "mmbench_21.jpg").string();
  const testing::CliResult result = testing::RunCli(
      {"chat", "-m", (testing::kFixturesDir / "internvl" / "model").string(), "-n", "4", "--reduce",
       "lightvlm", "--keep", "0.5"},
      "/image " + photo + "\nWhat is in the picture?\nSay more.\n/stats\n/image /no/such.png\n" +
          "/reset\nHello\n/stats\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string& out = result.out;
  EXPECT_NE(out.find("28 tokens, for the next turn"), std::string::npos) << out;
  EXPECT_NE(out.find("turns: 2; context:"), std::string::npos) << out;
  EXPECT_NE(out.find("/no/such.png"), std::string::npos) << out;
  EXPECT_NE(out.find("(conversation reset)"), std::string::npos) << out;
  EXPECT_NE(out.find("turns: 1; context:"), std::string::npos) << out;
  EXPECT_NE(out.find("(0 earlier tokens reused from the cache)"), std::string::npos) << out;
}

}  // namespace
}  // namespace lightvlm
