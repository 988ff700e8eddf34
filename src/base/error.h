// Errors: one exception type whose message names the file, field or limit at fault.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace lightvlm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything that streams into one string.
template <class... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Throws Error with the concatenated message.
template <class... Args>
[[noreturn]] void Fail(const Args&... args) {
  throw Error(StrCat(args...));
}

// Throws Error with the concatenated message unless `condition` holds.
template <class... Args>
void Check(bool condition, const Args&... args) {
  if (!condition) Fail(args...);
}

}  // namespace lightvlm
