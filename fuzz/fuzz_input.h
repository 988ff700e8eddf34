// Helpers shared by the fuzz targets: the input as text, and the one outcome a parser may have
// besides success (an Error naming the problem). Any other exception escapes and libFuzzer
// reports it as a crash, as it does sanitizer findings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"

namespace lightvlm::fuzz {

inline std::string Text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs `parse`, accepting an Error as the refusal of bad input.
template <class Parse>
void ExpectParsedOrRefused(Parse&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

}  // namespace lightvlm::fuzz
