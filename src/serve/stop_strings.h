// An answer's text as it streams, cut before the first of the request's stop strings. Text that
// may still turn out to begin a stop string is held back until that is settled, so a client never
// sees part of one.
#pragma once

#include <string>
#include <vector>

namespace lightvlm {

class StopStringFilter {
 public:
  explicit StopStringFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Appends `text` (whole UTF-8 characters) and returns what is now safe to send. Once a stop
  // string is found, stopped() holds and the rest of the answer is dropped.
  std::string Push(const std::string& text);
  // The text held back at the end of an answer that met no stop string.
  std::string Finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lightvlm
