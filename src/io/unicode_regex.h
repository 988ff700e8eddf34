// A PCRE2 regular expression over UTF-8 with Unicode classes (\p{L}, \s as Unicode whitespace),
// JIT-compiled where the platform allows: the engine behind tokenizer split patterns.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lightvlm {

class UnicodeRegex {
 public:
  // With `literal`, the pattern is matched as plain text. Fails with the PCRE2 message and the
  // offset in the pattern when it does not compile.
  UnicodeRegex(std::string_view pattern, bool literal);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // Byte ranges [begin, end) of the successive non-overlapping, non-empty matches in `text`
  // (valid UTF-8). Safe to call from several threads at once.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;

 private:
  struct Code;  // pcre2_code, kept out of this header
  Code* code_;
};

}  // namespace lightvlm
