// The flags of one conversation's generation that run and chat share, declared once: sampling and
// length (-n, --temp, --top-k, --top-p, --seed) and the prefill reducer (--reduce, --keep,
// --final-tokens, the query flags, --stages, --fastv-layer, --reduce-seed).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "apps/query_flags.h"
#include "engine/session.h"
#include "reduce/token_reducer.h"

namespace lightvlm {

void AddSamplingFlags(CLI::App& command, GenerationOptions& options);

struct ReducerFlags {
  std::string name = "none";
  ReducerOptions options;  // complete once Parse ran
  QueryFlags query;

  // Reads the query flags into `options`; fails naming a bad value.
  void Parse();
};
void AddReducerFlags(CLI::App& command, ReducerFlags& flags);

}  // namespace lightvlm
