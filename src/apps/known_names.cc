#include "apps/known_names.h"

#include <algorithm>

namespace lightvlm {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ", ") + name;
  return joined;
}

CLI::Validator KnownName(const std::string& what, const std::vector<std::string>& names) {
  return CLI::Validator(
      [what, names](std::string& value) -> std::string {
        if (std::find(names.begin(), names.end(), value) != names.end()) return "";
        return "unknown " + what + " '" + value + "' (known: " + JoinNames(names) + ")";
      },
      "", "known " + what);
}

}  // namespace lightvlm
