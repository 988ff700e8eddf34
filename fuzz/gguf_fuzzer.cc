// A GGUF file from arbitrary bytes: the header, metadata and tensor infos are validated; every
// tensor the file accepts is dequantized (a span outside the input is an ASan report), and what
// the loaders read from the metadata (decoder hyperparameters, tokenizer, special tokens, chat
// template) is read, each either succeeding or refused with an Error.
#include <span>

#include "fuzz_input.h"
#include "io/gguf_file.h"
#include "io/gguf_llm_params.h"
#include "io/gguf_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  fuzz::ExpectParsedOrRefused([&] {
    const auto file = GgufFile::Parse(std::as_bytes(std::span(data, size)), "fuzz.gguf");
    for (const GgufTensorInfo& tensor : file->tensors())
      fuzz::ExpectParsedOrRefused([&] { (void)file->LoadF32(tensor.name, tensor.shape); });
    fuzz::ExpectParsedOrRefused([&] { (void)ReadGgufLlmParams(*file); });
    fuzz::ExpectParsedOrRefused([&] { (void)ReadGgufSpecialTokens(*file); });
    fuzz::ExpectParsedOrRefused([&] { (void)GgufChatTemplate(*file); });
    fuzz::ExpectParsedOrRefused([&] {
      const auto tokenizer = TokenizerFromGguf(*file);
      (void)tokenizer->Decode(tokenizer->Encode("Hello world 123 <s>", /*add_special=*/true),
                              /*skip_special=*/false);
    });
  });
  return 0;
}
