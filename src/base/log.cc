#include "base/log.h"

#include <atomic>

namespace lightvlm {

namespace {
std::atomic<bool> verbose{false};
}

bool VerboseEnabled() { return verbose.load(std::memory_order_relaxed); }
void SetVerbose(bool enabled) { verbose.store(enabled, std::memory_order_relaxed); }

}  // namespace lightvlm
