// An encoded image (any format DecodeImage accepts) decoded and preprocessed into CLIP pixel
// values, as a request's image is. The pixel limit keeps one input's memory bounded.
#include "fuzz_input.h"
#include "io/image.h"
#include "models/clip_image_processor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  fuzz::ExpectParsedOrRefused([&] {
    const Image image = DecodeImage({data, size}, "fuzz image", {.max_pixels = 1 << 22});
    if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) __builtin_trap();
    ClipImageProcessorConfig config;  // CLIP's defaults, but a smaller output to keep it fast
    config.size_shortest_edge = config.crop_height = config.crop_width = 32;
    (void)ClipPixelValues(image, config);
  });
  return 0;
}
