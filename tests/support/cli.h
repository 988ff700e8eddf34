// Runs the lightvlm binary (LIGHTVLM_BINARY, which the apps_tests target defines) as a user
// would, with its own stdout and stderr captured and no stdin (or the given text as stdin).
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "support/test_files.h"

namespace lightvlm::testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal when the binary was killed by one, as the shell reports it
  std::string out;
  std::string err;
};

// `arg` single-quoted for the shell.
inline std::string Quote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

inline CliResult RunCli(const std::vector<std::string>& args,
                        const std::optional<std::string>& input = std::nullopt) {
  // Per test and per process: ctest runs tests in parallel.
  const std::filesystem::path dir = FreshTempDir("cli");
  const std::filesystem::path out = dir / "cli_stdout", err = dir / "cli_stderr",
                              in = dir / "cli_stdin";
  if (input) std::ofstream(in, std::ios::binary) << *input;
  std::string command = LIGHTVLM_BINARY;
  for (const auto& arg : args) command.append(" ").append(Quote(arg));
  command += " >" + out.string() + " 2>" + err.string() + " <" +
             (input ? in.string() : std::string("/dev/null"));
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

}  // namespace lightvlm::testing
