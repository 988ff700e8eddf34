// `lightvlm run` and `inspect` with the real SmolLM2 GGUF as -m (fetched by scripts/get_models.sh;
// skipped without it).
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli.h"

namespace lightvlm {
namespace {

const std::filesystem::path kSmolLm2 = std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "models" /
                                       "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";

class GgufCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSmolLm2)) {
      GTEST_SKIP() << kSmolLm2.string() << " is absent: run scripts/get_models.sh to fetch it";
    }
  }
};

TEST_F(GgufCliTest, RunGeneratesLlamaCppsGreedyText) {
  // llama.cpp's first five greedy ids for this prompt (llama_cpp_reference.json, a completion
  // without chat format) are 7042 30 198 198 504: " Paris.\n\nThe".
  const testing::CliResult result = testing::RunCli(
      {"run", "-m", kSmolLm2.string(), "-p", "The capital of France is", "-n", "5", "--raw"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, " Paris.\n\nThe\n");
}

// Without --raw the question is the user's turn of the file's chat template: the instruct model
// answers and ends its turn with <|im_end|>, which stops generation.
TEST_F(GgufCliTest, RunAnswersInTheChatFormatAndEndsItsTurn) {
  const testing::CliResult result = testing::RunCli(
      {"run", "-m", kSmolLm2.string(), "-p", "What is the capital of France?", "-n", "48", "-v"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Paris"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("stop: stop token"), std::string::npos) << result.err;
}

TEST_F(GgufCliTest, InspectDescribesTheFile) {
  const testing::CliResult result = testing::RunCli({"inspect", "-m", kSmolLm2.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("architecture: llama\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("decoder: llama, 30 layers, hidden 576"), std::string::npos);
  EXPECT_NE(result.out.find("tied embeddings"), std::string::npos);
  EXPECT_NE(result.out.find("Q4_1: 106168320 parameters in 210 tensors"), std::string::npos);
}

}  // namespace
}  // namespace lightvlm
