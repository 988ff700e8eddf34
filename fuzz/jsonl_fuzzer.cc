// JSON Lines as the dataset (eval --data) and batch (--requests) readers take them: lines split,
// parsed, each an object, and read through the typed accessors those readers use. The readers'
// own checks on the fields (in eval/ and apps/) are not part of this target.
#include <sstream>

#include "fuzz_input.h"
#include "io/json_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  std::istringstream in(fuzz::Text(data, size));
  fuzz::ExpectParsedOrRefused([&] {
    ForEachJsonLine(in, "fuzz.jsonl", "no items", [](const JsonFile& line, int64_t) {
      fuzz::ExpectParsedOrRefused([&] {
        (void)line.Get<std::string>("prompt");
        (void)line.GetOr<int64_t>("max_tokens", 16);
      });
      fuzz::ExpectParsedOrRefused([&] {
        (void)line.Get<std::string>("image");
        (void)line.Get<std::string>("question");
        (void)line.Get<std::string>("answer");
        (void)line.GetOr<std::string>("kind", "");
        (void)line.Find<std::vector<std::string>>("choices");
      });
    });
  });
  return 0;
}
