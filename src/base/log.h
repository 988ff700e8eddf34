// Diagnostics on stderr, off unless the user asked for them (--verbose).
#pragma once

#include <iostream>

#include "base/error.h"

namespace lightvlm {

bool VerboseEnabled();
void SetVerbose(bool enabled);

template <class... Args>
void LogVerbose(const Args&... args) {
  if (VerboseEnabled()) std::cerr << StrCat(args...) << '\n';
}

}  // namespace lightvlm
