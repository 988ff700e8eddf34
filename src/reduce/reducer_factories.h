// One factory per reducer file; registry.cc maps names to them.
#pragma once

#include <memory>

#include "reduce/token_reducer.h"

namespace lightvlm {

std::unique_ptr<TokenReducer> MakeLightVlmMerge(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeFastV(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakePyramidDrop(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeDart(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeCdPruner(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeVisionZip(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeRandomPrune(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeUniformPrune(const ReducerOptions& options);
std::unique_ptr<TokenReducer> MakeNoReduction(const ReducerOptions& options);

}  // namespace lightvlm
