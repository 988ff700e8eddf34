// A progress bar for long work (loading a model, eval, sweeps, bench) on stderr. It is drawn only
// when both stdout and stderr are terminals and --verbose is off, so pipes, files, scripts and
// tests see nothing of it; the bar is erased when the work ends.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace lightvlm {

// Whether a progress bar goes on stderr: stdout and stderr are terminals, --verbose is off.
bool ProgressOnTerminal();
// Whether both descriptors are terminals (ProgressOnTerminal's test, apart for testing).
bool BothTerminals(int out_fd, int err_fd);

class Progress {
 public:
  // `total` steps of `label`, drawn on std::cerr when ProgressOnTerminal().
  Progress(std::string label, int64_t total);
  // Drawn on `out` when `draw`, else silent.
  Progress(std::string label, int64_t total, std::ostream& out, bool draw);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Callers advance between units of work, never inside timed code: each call redraws.
  void Advance(int64_t steps = 1);

 private:
  void Draw();

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::ostream* out_;  // null: silent
};

}  // namespace lightvlm
