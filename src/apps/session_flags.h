// The generation flags that commands share, declared once: sampling and length (-n, --temp,
// --top-k, --top-p, --seed: always the sampling seed) and the prefill reducer (--reduce, --keep,
// --final-tokens, the query flags, --stages, --fastv-layer, --reduce-seed). Reducer names are
// checked while parsing, and a budget without a reducer is a usage error, not a silent no-op.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "apps/query_flags.h"
#include "engine/session.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

void AddSamplingFlags(CLI::App& command, GenerationOptions& options);

// --reduce NAME, one of TokenReducerNames().
CLI::Option* AddReducerNameFlag(CLI::App& command, std::string& name);

// The reducers' knobs: --query-tokens, --query-weights, --stages, --fastv-layer, --reduce-seed.
void AddReducerKnobs(CLI::App& command, ReducerOptions& options, QueryFlags& query);

struct ReducerFlags {
  std::string name = "none";
  ReducerOptions options;  // complete once Parse ran
  QueryFlags query;
  std::string plan;  // --plan, as given

  // Reads the query flags and the plan into `options`; fails naming a bad value.
  void Parse();
};
// --reduce, --keep, --final-tokens and --plan (one of them, each needing --reduce other than
// none) and the knobs.
void AddReducerFlags(CLI::App& command, ReducerFlags& flags);

}  // namespace lightvlm
