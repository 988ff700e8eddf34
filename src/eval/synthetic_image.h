// An image for benchmarks that need no image file.
#pragma once

#include "io/image.h"

namespace lightvlm {

// A size x size smooth colour gradient with a checker pattern, so it has some structure.
Image SyntheticImage(int size);

}  // namespace lightvlm
