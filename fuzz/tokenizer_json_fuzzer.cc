// tokenizer.json from arbitrary bytes; a tokenizer it accepts must encode and decode a text that
// touches spaces, digits, punctuation, non-ASCII characters and a special token's spelling.
#include "fuzz_input.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  fuzz::ExpectParsedOrRefused([&] {
    const auto tokenizer = Tokenizer::FromJson(fuzz::Text(data, size), "tokenizer.json");
    const std::vector<int32_t> ids =
        tokenizer->Encode("Once upon a time, 12 caf\xc3\xa9s  <s>\n\xe4\xb8\xad!", true);
    (void)tokenizer->Decode(ids, true);
    (void)tokenizer->Decode(ids, false);
  });
  return 0;
}
