// Names of methods and policies (--reduce, --kv) checked while the command line is parsed, before
// any model loads, with the valid ones in the error.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace lightvlm {

// Accepts the values in `names`; fails with "unknown WHAT 'x' (known: a, b, ...)", as the
// registries of reduce/ do.
CLI::Validator KnownName(const std::string& what, const std::vector<std::string>& names);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace lightvlm
