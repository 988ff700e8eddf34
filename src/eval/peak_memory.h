// The most memory the process has held: what `lightvlm bench` reports as peak memory.
#pragma once

#include <cstddef>

namespace lightvlm {

// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
size_t PeakResidentBytes();

}  // namespace lightvlm
