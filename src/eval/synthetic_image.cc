#include "eval/synthetic_image.h"

#include <cstdint>
#include <vector>

namespace lightvlm {

Image SyntheticImage(int size) {
  Image image{size, size, std::vector<uint8_t>(size_t(size) * size * 3)};
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      uint8_t* pixel = image.rgb.data() + (size_t(y) * size + x) * 3;
      pixel[0] = static_cast<uint8_t>(255 * x / size);
      pixel[1] = static_cast<uint8_t>(255 * y / size);
      pixel[2] = static_cast<uint8_t>(((x / 16 + y / 16) % 2) * 200);
    }
  return image;
}

}  // namespace lightvlm
