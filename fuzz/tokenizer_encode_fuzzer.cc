// Arbitrary bytes encoded by the two tokenizer styles (byte-level: the Qwen2 fixture;
// SentencePiece style: the Llama 2 fixture). Text that is not UTF-8 must be refused with an Error;
// in the byte-level one, whose encoding loses nothing but what its NFC normalizer composes,
// encoded text must decode to text that encodes to the same ids (and to itself when ASCII).
// The ids are also decoded as an arbitrary sequence, in full and as a stream.
#include <algorithm>
#include <map>
#include <memory>

#include "fuzz_input.h"
#include "io/tokenizer.h"

namespace {

using lightvlm::Tokenizer;

const Tokenizer& Load(const char* relative_path) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> loaded;
  auto& tokenizer = loaded[relative_path];
  if (tokenizer == nullptr) {
    tokenizer = Tokenizer::Load(std::string(LIGHTVLM_SOURCE_DIR) + "/" + relative_path);
  }
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  if (size == 0) return 0;
  const bool byte_level = data[0] & 1;
  const bool add_special = data[0] & 2;
  const bool skip_special = data[0] & 4;
  const Tokenizer& tokenizer = Load(byte_level ? "tests/fixtures/qwen2/model/tokenizer.json"
                                               : "tests/fixtures/llama/model/tokenizer.json");
  const std::string text = fuzz::Text(data + 1, size - 1);
  fuzz::ExpectParsedOrRefused([&] {
    const std::vector<int32_t> ids = tokenizer.Encode(text, add_special);
    const std::string decoded = tokenizer.Decode(ids, false);
    if (!byte_level || add_special) return;
    const bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0; });
    if ((ascii && decoded != text) || tokenizer.Encode(decoded, false) != ids) __builtin_trap();
  });
  // The input's bytes as token ids (including ids past the vocabulary, which decode to nothing).
  std::vector<int32_t> ids;
  for (size_t i = 1; i + 1 < size; i += 2) ids.push_back(data[i] | data[i + 1] << 8);
  (void)tokenizer.Decode(ids, skip_special);
  StreamDecoder stream(tokenizer, skip_special);
  for (int32_t id : ids) (void)stream.Push(id);
  (void)stream.Finish();
  return 0;
}
