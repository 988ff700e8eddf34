// preprocessor_config.json: read and validated, then used to preprocess a small image, as a model
// load and a request would.
#include "fuzz_input.h"
#include "io/json_file.h"
#include "models/clip_image_processor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  fuzz::ExpectParsedOrRefused([&] {
    const JsonFile json = JsonFile::Parse(fuzz::Text(data, size), "preprocessor_config.json");
    const ClipImageProcessorConfig config = ReadClipImageProcessorConfig(json);
    Image image{.width = 7, .height = 5, .rgb = std::vector<uint8_t>(7 * 5 * 3)};
    for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<uint8_t>(i * 37);
    (void)ClipPixelValues(image, config);
  });
  return 0;
}
