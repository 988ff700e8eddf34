// The subcommands of the lightvlm CLI. Each registers its options and a callback that runs it;
// failures are thrown as lightvlm::Error and reported by main.
#pragma once

#include <CLI/CLI.hpp>

namespace lightvlm {

void AddRunCommand(CLI::App& app);
void AddInspectCommand(CLI::App& app);
void AddEvalCommand(CLI::App& app);
void AddBenchCommand(CLI::App& app);
void AddKvFidelityCommand(CLI::App& app);
void AddBatchCommand(CLI::App& app);

}  // namespace lightvlm
