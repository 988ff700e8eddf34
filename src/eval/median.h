// The median of repeated timings, the statistic every benchmark here reports.
#pragma once

#include <algorithm>
#include <vector>

namespace lightvlm {

// The middle value (the mean of the two middle ones for an even count); 0 for none.
inline double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace lightvlm
