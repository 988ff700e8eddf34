// The flags that choose how attention-scored reducers score image tokens (--query-tokens,
// --query-weights; docs/ALGORITHM.md), shared by run, eval and bench.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "reduce/token_reducer.h"

namespace lightvlm {

// The flags' text, read into ReducerOptions by ParseQueryFlags once the command line is parsed.
struct QueryFlags {
  std::string tokens = QueryTokensName(ReducerOptions{});
  std::string weights = QueryWeightsName(ReducerOptions{});
};

void AddQueryFlags(CLI::App& command, QueryFlags& flags);
// Sets `options`' scoring rows and weighting from `flags`; fails naming a bad value.
void ParseQueryFlags(const QueryFlags& flags, ReducerOptions& options);

}  // namespace lightvlm
