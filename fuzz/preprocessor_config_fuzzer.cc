// preprocessor_config.json: read and validated as CLIP's and as SmolVLM's image processor, then
// used to preprocess a small image, as a model load and a request would.
#include "fuzz_input.h"
#include "io/json_file.h"
#include "models/clip_image_processor.h"
#include "models/smolvlm_image_processor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  Image image{.width = 7, .height = 5, .rgb = std::vector<uint8_t>(7 * 5 * 3)};
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 37);
  fuzz::ExpectParsedOrRefused([&] {
    const JsonFile json = JsonFile::Parse(fuzz::Text(data, size), "preprocessor_config.json");
    const ClipImageProcessorConfig config = ReadClipImageProcessorConfig(json);
    (void)ClipPixelValues(image, config);
  });
  fuzz::ExpectParsedOrRefused([&] {
    const JsonFile json = JsonFile::Parse(fuzz::Text(data, size), "preprocessor_config.json");
    const SmolVLMImageProcessorConfig config = ReadSmolVLMImageProcessorConfig(json);
    (void)SmolVLMSubImageGrid(7, 5, config);
    // Pixels only where they stay small (up to 64 px edges, 16 sub-images): the validated limits
    // allow 4096 px edges, a fuzzer's time per input does not.
    if (config.longest_edge <= 64 && config.sub_image >= 16) (void)SmolVLMPreprocess(image, config);
  });
  return 0;
}
