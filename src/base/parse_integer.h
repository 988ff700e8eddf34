// Decimal integers read from text that must be nothing else (flag values, JSON keys, paths).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lightvlm {

// `text` as a decimal integer when it is exactly one (an optional '-' and digits, in range), else
// nullopt: no leading space or '+', nothing after the digits.
std::optional<int64_t> ParseInteger(std::string_view text);

}  // namespace lightvlm
