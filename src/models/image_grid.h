// An image's (or video's) grid in vision patches before spatial merging, as Qwen2-VL's
// image_grid_thw holds it: t temporal patches of h x w spatial patches.
#pragma once

#include <cstdint>

namespace lightvlm {

// Not ImageGrid (image_embeddings.h): that counts embedding rows after the merge, no time.
struct ImageGridThw {
  int64_t t = 1;
  int64_t h = 0;
  int64_t w = 0;
};

}  // namespace lightvlm
