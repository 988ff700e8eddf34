#include "base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "base/log.h"

namespace lightvlm {
namespace {

constexpr int64_t kCells = 30;  // the bar's width in characters

}  // namespace

bool BothTerminals(int out_fd, int err_fd) { return isatty(out_fd) && isatty(err_fd); }

bool ProgressOnTerminal() {
  return BothTerminals(STDOUT_FILENO, STDERR_FILENO) && !VerboseEnabled();
}

Progress::Progress(std::string label, int64_t total)
    : Progress(std::move(label), total, std::cerr, ProgressOnTerminal()) {}

Progress::Progress(std::string label, int64_t total, std::ostream& out, bool draw)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 1)), out_(draw ? &out : nullptr) {
  Draw();
}

Progress::~Progress() {
  // Erases the bar: what the command prints next starts on a clean line.
  if (out_) *out_ << "\r\033[K" << std::flush;
}

void Progress::Advance(int64_t steps) {
  done_ = std::min(done_ + steps, total_);
  Draw();
}

void Progress::Draw() {
  if (!out_) return;
  const int64_t cells = done_ * kCells / total_;
  *out_ << '\r' << label_ << " [" << std::string(cells, '#') << std::string(kCells - cells, '.')
        << "] " << done_ << '/' << total_ << std::flush;
}

}  // namespace lightvlm
