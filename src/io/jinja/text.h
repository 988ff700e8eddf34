// Python's str rules on UTF-8 text where chat templates use them: what counts as whitespace
// (strip, split, the "-" of {%- -%}) and case mapping (upper, lower, capitalize, title). Case
// mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic, with Python's special cases
// there (ß -> SS, final sigma); a cased letter of another script fails with an error naming it
// rather than coming out unmapped.
#pragma once

#include <string>
#include <string_view>

namespace lightvlm::jinja {

bool IsPyWhitespace(char32_t c);
// str.strip(), str.lstrip(), str.rstrip() without arguments.
std::string StripWhitespace(std::string_view s, bool left, bool right);

std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
// str.capitalize(): the first character upper, the rest lower.
std::string Capitalize(std::string_view s);
// str.title(): upper after a character without case, lower after one with case.
std::string Title(std::string_view s);
// str.islower() / str.isupper(): some cased character, and all of them lower (upper).
bool IsAllCase(std::string_view s, bool lower);

}  // namespace lightvlm::jinja
