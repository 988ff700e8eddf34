// The subcommands of the lightvlm CLI. Each registers its options and a callback that runs it;
// failures are thrown as lightvlm::Error and reported by main.
//
// A subcommand that loads a model and generates takes the shared flags from their one
// declaration, never its own copy: AddModelFlag, AddLoadFlags and AddThreadsFlag
// (runtime_flags.h; LoadFlags::Options() for LoadModel), AddContextFlags and AddImageLimitFlag
// when it holds KV caches or reads images, AddSamplingFlags and AddReducerFlags
// (session_flags.h), AddKvPolicyFlags (kv_flags.h). Its callback calls
// ValidateSamplingOptions(options.sampling) and ReducerFlags::Parse() before loading anything;
// names, ranges and flags that need --reduce or --kv are checked by CLI11 while parsing.
// tests/apps/help_cli_test.cc checks every subcommand's help against the code.
#pragma once

#include <CLI/CLI.hpp>

#include "base/error.h"

namespace lightvlm {

// Exit statuses: 1 when a command fails, 2 when it did its work but some of it failed (batch:
// some requests got an error line instead of an answer), thrown as PartialFailure.
constexpr int kExitFailure = 1;
constexpr int kExitPartialFailure = 2;
class PartialFailure : public Error {
 public:
  using Error::Error;
};

void AddRunCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddKvFidelityCommand(CLI::App& app);
void AddBatchCommand(CLI::App& app);
void AddChatCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);

}  // namespace lightvlm
