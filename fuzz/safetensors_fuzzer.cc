// A safetensors file from arbitrary bytes: the header is validated, and every tensor it accepts
// must lie inside the input (each of its bytes is read, so AddressSanitizer sees any span that
// does not) and be viewable when it is a float type.
#include <span>

#include "fuzz_input.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lightvlm::fuzz::ExpectParsedOrRefused([&] {
    const auto file =
        lightvlm::SafetensorsFile::Parse(std::as_bytes(std::span(data, size)), "fuzz.safetensors");
    unsigned checksum = 0;
    for (const auto& [name, tensor] : file->tensors()) {
      for (size_t i = 0; i < tensor.num_bytes; ++i)
        checksum += std::to_integer<unsigned>(tensor.data[i]);
      if (tensor.is_float) (void)tensor.view();
    }
    volatile unsigned sink = checksum;
    (void)sink;
  });
  return 0;
}
