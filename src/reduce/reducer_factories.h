// One factory per reducer file; registry.cc maps names to them.
#pragma once

#include <memory>

#include "reduce/token_reducer.h"

namespace lightvlm {

std::unique_ptr<TokenReducer> MakeLightVlmMerge(const ReducerOptions& options);

}  // namespace lightvlm
