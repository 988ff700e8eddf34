// The command line's shared behaviour: --version, names of reducers and KV policies checked
// before any model loads (listing the valid ones), budgets and KV knobs that would change nothing
// refused, one dtype default, and the progress bar drawn on a terminal only.
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::RunCli;

const fs::path kFixtures = fs::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures";

// `eval` of the LLaVA fixture over the first `limit` eval questions, one token each, on 2
// threads, then `flags`.
std::vector<std::string> EvalOnFixture(int limit, const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"eval",
                                   "-m",
                                   (kFixtures / "llava" / "model").string(),
                                   "--data",
                                   (kFixtures / "eval" / "questions.jsonl").string(),
                                   "-t",
                                   "2",
                                   "--limit",
                                   std::to_string(limit),
                                   "-n",
                                   "1"};
  args.insert(args.end(), flags.begin(), flags.end());
  return args;
}

// `command` on a model that does not exist, with its other required flags and then `flags`: a
// failure that does not name the model happened before loading it.
CliResult RunWithoutModel(const std::string& command, const std::vector<std::string>& flags) {
  std::vector<std::string> args = {command, "-m", "/nonexistent/model"};
  if (command == "run") args.insert(args.end(), {"-p", "Hi"});
  if (command == "batch") args.insert(args.end(), {"--requests", "/nonexistent/requests.jsonl"});
  if (command == "eval") args.insert(args.end(), {"--data", "/nonexistent/data.jsonl"});
  args.insert(args.end(), flags.begin(), flags.end());
  return RunCli(args);
}

void ExpectUsageError(const CliResult& result, const std::string& message,
                      const std::string& context) {
  EXPECT_NE(result.exit_code, 0) << context;
  EXPECT_LT(result.exit_code, 128) << context;
  EXPECT_NE(result.err.find(message), std::string::npos) << context << ": " << result.err;
  EXPECT_EQ(result.err.find("/nonexistent"), std::string::npos) << context << ": " << result.err;
}

TEST(FlagsCliTest, VersionPrintsTheProjectVersion) {
  const CliResult result = RunCli({"--version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "lightvlm " LIGHTVLM_VERSION "\n");
}

std::string Joined(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

// lightvlm runs with OpenMP's passive wait policy unless the user set one (src/apps/main.cc);
// bench reports the policy its run had.
TEST(FlagsCliTest, OpenMpWaitsPassivelyUnlessTheUserChoseAPolicy) {
  const char* saved = std::getenv("OMP_WAIT_POLICY");
  const std::string saved_value = saved != nullptr ? saved : "";
  const std::vector<std::string> bench = {"bench",
                                          "-m",
                                          (kFixtures / "llava" / "model").string(),
                                          "--decode-context",
                                          "8",
                                          "--steps",
                                          "1",
                                          "--kv",
                                          "none",
                                          "-t",
                                          "1",
                                          "--no-ceilings",
                                          "--json"};
  for (const std::string policy : {"", "ACTIVE"}) {
    if (policy.empty()) {
      unsetenv("OMP_WAIT_POLICY");
    } else {
      setenv("OMP_WAIT_POLICY", policy.c_str(), 1);
    }
    const CliResult result = RunCli(bench);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out).at("omp_wait_policy"),
              policy.empty() ? "PASSIVE" : policy);
  }
  if (saved != nullptr) {
    setenv("OMP_WAIT_POLICY", saved_value.c_str(), 1);
  } else {
    unsetenv("OMP_WAIT_POLICY");
  }
}

TEST(FlagsCliTest, UnknownNamesFailBeforeTheModelLoadsListingTheKnownOnes) {
  const std::string reducers =
      "--reduce: unknown reducer 'fastx' (known: " + Joined(TokenReducerNames()) + ")";
  const std::string policies =
      "--kv: unknown KV policy 'lru' (known: " + Joined(KvPolicyNames()) + ")";
  for (const std::string command : {"run", "chat", "batch", "eval", "bench"}) {
    ExpectUsageError(RunWithoutModel(command, {"--reduce", "fastx"}), reducers, command);
  }
  for (const std::string command : {"run", "chat", "batch", "eval"}) {
    ExpectUsageError(RunWithoutModel(command, {"--kv", "lru"}), policies, command);
  }
  for (const std::string command : {"bench", "kvfidelity"}) {
    ExpectUsageError(RunWithoutModel(command, {"--kv", "h2o", "lru"}), policies, command);
  }
  ExpectUsageError(RunWithoutModel("bench", {"--compare", "--kv lru"}), policies,
                   "bench --compare");
}

// A budget without a reducer, or a KV knob without a policy, used to be ignored.
TEST(FlagsCliTest, BudgetsNeedAReducerAndKnobsAPolicy) {
  for (const std::string command : {"run", "chat", "batch", "eval"}) {
    ExpectUsageError(RunWithoutModel(command, {"--keep", "0.5"}), "--keep requires --reduce",
                     command);
    ExpectUsageError(RunWithoutModel(command, {"--final-tokens", "8"}),
                     "--final-tokens requires --reduce", command);
    ExpectUsageError(RunWithoutModel(command, {"--reduce", "none", "--keep", "0.5"}),
                     "--reduce none reduces nothing", command);
    ExpectUsageError(RunWithoutModel(command, {"--plan", "4:10"}), "--plan requires --reduce",
                     command);
    ExpectUsageError(RunWithoutModel(command, {"--reduce", "none", "--plan", "4:10"}),
                     "--reduce none reduces nothing", command);
    ExpectUsageError(
        RunWithoutModel(command, {"--reduce", "fastv", "--keep", "0.5", "--plan", "4:10"}),
        "--keep excludes --plan", command);
    ExpectUsageError(RunWithoutModel(command, {"--kv-budget", "8"}), "--kv-budget requires --kv",
                     command);
    ExpectUsageError(RunWithoutModel(command, {"--kv", "none", "--kv-interval", "1"}),
                     "--kv-interval does nothing with --kv none", command);
  }
}

// --seed is the sampling seed wherever it exists; the reducer's is --reduce-seed, eval's too.
TEST(FlagsCliTest, EvalTakesTheSharedReducerAndLoadFlags) {
  const std::vector<std::string> eval = EvalOnFixture(1, {"--json"});
  std::vector<std::string> args = eval;
  args.insert(args.end(), {"--dtype", "bf16", "--reduce", "random", "--keep", "0.5",
                           "--reduce-seed", "3", "--fastv-layer", "1"});
  const CliResult result = RunCli(args);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(nlohmann::json::parse(result.out)["method"], "random");
  args = eval;
  args.insert(args.end(), {"--seed", "3"});
  const CliResult seed = RunCli(args);
  EXPECT_NE(seed.exit_code, 0);
  EXPECT_NE(seed.err.find("--seed"), std::string::npos) << seed.err;
}

// bench used to default to bf16 and the others to f32; every dtype --dtype accepts loads.
TEST(FlagsCliTest, BenchLoadsF32UnlessToldOtherwise) {
  const std::vector<std::string> bench = {"bench",
                                          "-m",
                                          testing::kStoriesDir.string(),
                                          "-t",
                                          "1",
                                          "--budgets",
                                          "1",
                                          "--repeats",
                                          "1",
                                          "--warmup",
                                          "0",
                                          "--no-ceilings",
                                          "--prompt-tokens",
                                          "20",
                                          "--json"};
  const CliResult plain = RunCli(bench);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["dtype"], "F32");
  for (const auto& [flag, name] : {std::pair{"bf16", "BF16"}, {"int8", "I8"}, {"q4", "Q4"}}) {
    std::vector<std::string> args = bench;
    args.insert(args.end(), {"--dtype", flag});
    const CliResult result = RunCli(args);
    ASSERT_EQ(result.exit_code, 0) << flag << ": " << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out)["dtype"], name);
  }
}

// The output of `args` run with stdout and stderr on a terminal (a pseudo-terminal here).
std::string RunOnTerminal(const std::vector<std::string>& args) {
  int controller = -1;
  const pid_t child = forkpty(&controller, nullptr, nullptr, nullptr);
  if (child == 0) {
    std::vector<char*> argv = {const_cast<char*>(LIGHTVLM_BINARY)};
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(LIGHTVLM_BINARY, argv.data());
    _exit(127);
  }
  EXPECT_GT(child, 0);
  std::string output;
  char buffer[4096];
  ssize_t bytes = 0;
  // The read fails (EIO) once the child has exited and the terminal is closed.
  while ((bytes = read(controller, buffer, sizeof buffer)) > 0) output.append(buffer, bytes);
  int status = 0;
  waitpid(child, &status, 0);
  close(controller);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  return output;
}

TEST(FlagsCliTest, ProgressIsDrawnOnATerminalAndNowhereElse) {
  const std::vector<std::string> args = EvalOnFixture(2, {"--reduce", "lightvlm", "--keep", "0.5"});
  const std::string terminal = RunOnTerminal(args);
  EXPECT_NE(terminal.find("\rloading layers ["), std::string::npos) << terminal;
  EXPECT_NE(terminal.find("\rencoding images [##############################] 2/2"),
            std::string::npos)
      << terminal;
  // Two methods (none as the baseline, then lightvlm) of two items each.
  EXPECT_NE(terminal.find("\reval [##############################] 4/4"), std::string::npos)
      << terminal;
  const CliResult files = RunCli(args);
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_EQ(files.err.find('\r'), std::string::npos) << files.err;
  EXPECT_EQ(files.out.find('\r'), std::string::npos) << files.out;
  EXPECT_EQ(files.err.find(" ["), std::string::npos) << files.err;
}

}  // namespace
}  // namespace lightvlm
