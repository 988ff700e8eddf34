#include "io/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "base/error.h"
#include "io/utf8.h"

namespace lightvlm {
namespace {

std::string Pcre2Message(int error_code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(error_code, buffer, sizeof(buffer)) < 0) {
    return StrCat("PCRE2 error ", error_code);
  }
  return reinterpret_cast<const char*>(buffer);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

}  // namespace

struct UnicodeRegex::Code {
  pcre2_code* compiled;
};

UnicodeRegex::UnicodeRegex(std::string_view pattern, bool literal) {
  // UCP makes \s, \d, \w and POSIX classes follow Unicode properties, as Oniguruma (used by
  // Hugging Face tokenizers) does for these patterns; PCRE2 refuses it for a literal.
  const uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                       options, &error_code, &error_offset, nullptr);
  Check(compiled != nullptr, "does not compile: ", Pcre2Message(error_code), " at offset ",
        error_offset);
  // JIT is only a speed-up: where it is unavailable the interpreter runs the same pattern.
  pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE);
  code_ = new Code{compiled};
}

UnicodeRegex::~UnicodeRegex() {
  pcre2_code_free(code_->compiled);
  delete code_;
}

std::vector<std::pair<size_t, size_t>> UnicodeRegex::FindAll(std::string_view text) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> match_data(
      pcre2_match_data_create_from_pattern(code_->compiled, nullptr));
  Check(match_data != nullptr, "out of memory for regex match data");
  std::vector<std::pair<size_t, size_t>> matches;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  for (size_t start = 0; start < text.size();) {
    int result = pcre2_match(code_->compiled, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                             match_data.get(), nullptr);
    if (result == PCRE2_ERROR_JIT_STACKLIMIT) {
      // Long runs (e.g. of whitespace) can exhaust the JIT's small stack; the interpreter's
      // heap-backed backtracking handles them.
      result = pcre2_match(code_->compiled, subject, text.size(), start,
                           PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match_data.get(), nullptr);
    }
    if (result == PCRE2_ERROR_NOMATCH) break;
    Check(result >= 0, "regex match failed: ", Pcre2Message(result));
    const PCRE2_SIZE* offsets = pcre2_get_ovector_pointer(match_data.get());
    if (offsets[1] > offsets[0]) {
      matches.emplace_back(offsets[0], offsets[1]);
      start = offsets[1];
    } else if (offsets[0] < text.size()) {
      // An empty match matches nothing; look again one character further on.
      start = offsets[0] + DecodeUtf8Step(text, offsets[0]).length;
    } else {
      break;
    }
  }
  return matches;
}

}  // namespace lightvlm
