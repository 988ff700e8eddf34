// `lightvlm batch`: requests answered with continuous batching give the answers `lightvlm run`
// gives each one alone, one JSON line per request; bad request files fail naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;

const fs::path kShapes = fs::path(LIGHTVLM_SOURCE_DIR) / "models" / "shapes";

fs::path WriteRequests(const std::string& lines) {
  const fs::path path = testing::FreshTempDir("batch") / "requests.jsonl";
  std::ofstream(path) << lines;
  return path;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  for (const std::string& line : testing::SplitLines(text))
    lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(BatchCliTest, AnswersEveryRequestAsRunDoesAlone) {
  const std::string image0 = (kShapes / "test" / "images" / "test_00000.png").string();
  const std::string image1 = (kShapes / "test" / "images" / "test_00001.png").string();
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"What colour is the square?", image0},
      {"How many squares are there?", image1},
      {"Is the square left of the star?", image0}};
  std::string lines;
  for (const auto& [question, image] : requests) {
    lines +=
        nlohmann::json{{"prompt", question}, {"image", image}, {"max_tokens", 4}}.dump() + "\n";
  }
  const testing::CliResult batch =
      testing::RunCli({"batch", "-m", (kShapes / "model").string(), "--requests",
                       WriteRequests(lines).string(), "-b", "2", "-v"});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  const std::vector<nlohmann::json> answers = JsonLines(batch.out);
  ASSERT_EQ(answers.size(), requests.size());
  std::vector<bool> seen(requests.size(), false);
  for (const nlohmann::json& answer : answers) {
    const auto index = answer.at("index").get<size_t>();
    ASSERT_LT(index, requests.size());
    seen[index] = true;
    const testing::CliResult alone =
        testing::RunCli({"run", "-m", (kShapes / "model").string(), "-p", requests[index].first,
                         "-i", requests[index].second, "-n", "4"});
    ASSERT_EQ(alone.exit_code, 0) << alone.err;
    // run streams the text as it continues the prompt (with its leading space); batch gives the
    // answer's text alone.
    ASSERT_FALSE(alone.out.empty());
    EXPECT_EQ(alone.out.front(), ' ');
    EXPECT_EQ(alone.out.substr(1), answer.at("text").get<std::string>() + "\n")
        << requests[index].first;
    EXPECT_GE(answer.at("tokens").get<int>(), 1);
  }
  EXPECT_EQ(seen, std::vector<bool>(requests.size(), true));
  EXPECT_NE(batch.err.find("at most 2 sequences in one"), std::string::npos) << batch.err;
}

// One bad request used to abort them all (exit 1, no answers, the error naming no request line).
// Now each bad request gets its own error line naming its line, the others their answers, and
// the exit status is 2.
TEST(BatchCliTest, BadRequestsGetErrorLinesAndTheOthersAnswers) {
  const fs::path requests = WriteRequests(
      "{\"prompt\": \"Once\", \"max_tokens\": 3}\n"
      "{\"text\": \"no prompt\"}\n"
      "\n"
      "{\"prompt\": \"Once\", \"max_tokens\": 0}\n"
      "not json\n"
      "{\"prompt\": \"Once\", \"image\": \"a.png\"}\n"
      "{\"prompt\": \"Once\", \"max_tokens\": 1e400}\n"
      "{\"prompt\": \"Lily\", \"max_tokens\": 2}\n");
  const testing::CliResult result = testing::RunCli(
      {"batch", "-m", testing::kStoriesDir.string(), "--requests", requests.string()});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("5 of 7 requests in " + requests.string() + " failed"),
            std::string::npos)
      << result.err;
  const std::vector<std::pair<int, std::string>> errors = {{2, "missing field 'prompt'"},
                                                           {4, "max_tokens must be positive"},
                                                           {5, "not valid JSON"},
                                                           {6, "takes no images"},
                                                           {7, "number overflow"}};
  std::map<int64_t, nlohmann::json> by_line;
  for (const nlohmann::json& line : JsonLines(result.out)) by_line[line.at("line")] = line;
  ASSERT_EQ(by_line.size(), 7u) << result.out;
  for (const auto& [line, message] : errors) {
    const nlohmann::json& answer = by_line.at(line);
    ASSERT_TRUE(answer.contains("error")) << answer.dump();
    const auto error = answer.at("error").get<std::string>();
    EXPECT_NE(error.find(requests.string() + ", line " + std::to_string(line) + ": "),
              std::string::npos)
        << error;
    EXPECT_NE(error.find(message), std::string::npos) << error;
    EXPECT_FALSE(answer.contains("text"));
  }
  // Request index counts the non-blank lines: line 8 is request 6.
  EXPECT_EQ(by_line.at(1).at("index"), 0);
  EXPECT_EQ(by_line.at(1).at("tokens"), 3);
  EXPECT_EQ(by_line.at(8).at("index"), 6);
  EXPECT_EQ(by_line.at(8).at("tokens"), 2);
}

// `run` refuses an "<image>" typed in a text-only prompt; batch used to feed it in as text.
// Both now build prompts with one function (MakePrompt) and refuse it alike.
TEST(BatchCliTest, ImagePlaceholderWithoutImageIsRefusedAsByRun) {
  const std::string model = (kShapes / "model").string();
  const testing::CliResult run =
      testing::RunCli({"run", "-m", model, "-p", "What is in <image>?", "-n", "2"});
  EXPECT_EQ(run.exit_code, 1);
  const std::string message = "the prompt has more image placeholders than the 0 images given";
  EXPECT_NE(run.err.find(message), std::string::npos) << run.err;
  const testing::CliResult batch = testing::RunCli(
      {"batch", "-m", model, "--requests",
       WriteRequests("{\"prompt\": \"What is in <image>?\", \"max_tokens\": 2}\n").string()});
  EXPECT_EQ(batch.exit_code, 2) << batch.err;
  const std::vector<nlohmann::json> lines = JsonLines(batch.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].at("error").get<std::string>().find(message), std::string::npos)
      << lines[0].dump();
}

TEST(BatchCliTest, UnusableRequestFilesFail) {
  const std::string model = testing::kStoriesDir.string();
  const testing::CliResult empty =
      testing::RunCli({"batch", "-m", model, "--requests", WriteRequests("\n\n").string()});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("no requests"), std::string::npos) << empty.err;
  const testing::CliResult missing =
      testing::RunCli({"batch", "-m", model, "--requests", "/nonexistent/requests.jsonl"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace lightvlm
