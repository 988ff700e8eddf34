#include "serve/stop_strings.h"

#include <algorithm>
#include <utility>

namespace lightvlm {

std::string StopStringFilter::Push(const std::string& text) {
  if (stopped_) return {};
  held_ += text;
  size_t first_stop = std::string::npos;
  for (const std::string& stop : stops_) first_stop = std::min(first_stop, held_.find(stop));
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string sent = held_.substr(0, first_stop);
    held_.clear();
    return sent;
  }
  // Hold back the longest end of the text that begins some stop string.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t length = std::min(stop.size() - 1, held_.size()); length > hold; --length) {
      if (held_.compare(held_.size() - length, length, stop, 0, length) == 0) {
        hold = length;
        break;
      }
    }
  }
  std::string sent = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return sent;
}

std::string StopStringFilter::Finish() {
  if (stopped_) return {};
  return std::exchange(held_, {});
}

}  // namespace lightvlm
