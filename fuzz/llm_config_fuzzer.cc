// config.json of an LLM (or of a VLM, whose decoder fields sit under text_config): read, validated,
// and turned into RoPE frequencies as a model load would.
#include "fuzz_input.h"
#include "io/json_file.h"
#include "models/llm_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  fuzz::ExpectParsedOrRefused([&] {
    const JsonFile json = JsonFile::Parse(fuzz::Text(data, size), "config.json");
    const std::string prefix = json.Node("text_config") != nullptr ? "text_config." : "";
    const LlmConfig config = ReadLlmConfig(json, prefix);
    (void)RopeInverseFrequencies(config);
  });
  return 0;
}
