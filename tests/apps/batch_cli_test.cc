// `lightvlm batch`: requests answered with continuous batching give the answers `lightvlm run`
// gives each one alone, one JSON line per request; bad request files fail naming the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
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
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
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

TEST(BatchCliTest, BadRequestsFailNamingTheProblem) {
  const std::string model = testing::kStoriesDir.string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"prompt\": \"Once\"}\n{\"text\": \"no prompt\"}\n", "line 2"},
      {"{\"prompt\": \"Once\", \"max_tokens\": 0}\n", "max_tokens must be positive"},
      {"not json\n", "line 1"},
      {"\n\n", "no requests"},
      {"{\"prompt\": \"Once\", \"image\": \"a.png\"}\n", "takes no images"},
  };
  for (const auto& [lines, message] : cases) {
    const testing::CliResult result =
        testing::RunCli({"batch", "-m", model, "--requests", WriteRequests(lines).string()});
    EXPECT_EQ(result.exit_code, 1) << lines << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << lines << result.err;
  }
  const testing::CliResult missing =
      testing::RunCli({"batch", "-m", model, "--requests", "/nonexistent/requests.jsonl"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace lightvlm
