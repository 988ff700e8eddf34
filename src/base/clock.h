// Wall-clock time for the timings the engine reports (prefill, decode, benchmarks).
#pragma once

#include <chrono>

namespace lightvlm {

using Clock = std::chrono::steady_clock;

inline double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace lightvlm
