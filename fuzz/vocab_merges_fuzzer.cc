// vocab.json + merges.txt from arbitrary bytes: the input up to its first NUL byte is vocab.json,
// the rest merges.txt. A tokenizer they make must encode and decode a text that touches spaces,
// digits, punctuation, non-ASCII characters and a special token's spelling.
#include "fuzz_input.h"
#include "io/vocab_merges_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  const std::string input = fuzz::Text(data, size);
  const size_t nul = input.find('\0');
  const std::string vocab = input.substr(0, nul);
  const std::string merges = nul == std::string::npos ? "" : input.substr(nul + 1);
  fuzz::ExpectParsedOrRefused([&] {
    const auto tokenizer =
        VocabMergesTokenizer(vocab, "vocab.json", merges, "merges.txt", SlowTokenizerConfig{}, {});
    const std::vector<int32_t> ids =
        tokenizer->Encode("Once upon a time, 12 caf\xc3\xa9s  <|im_start|>\n\xe4\xb8\xad!", true);
    (void)tokenizer->Decode(ids, true);
    (void)tokenizer->Decode(ids, false);
  });
  return 0;
}
