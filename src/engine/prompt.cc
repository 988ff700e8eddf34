#include "engine/prompt.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

Prompt AssemblePrompt(std::span<const int32_t> ids, std::span<const ImageEmbeddings> images,
                      int32_t image_token_id) {
  Prompt prompt;
  size_t next_image = 0;
  for (size_t i = 0; i < ids.size();) {
    if (image_token_id < 0 || ids[i] != image_token_id) {
      prompt.token_ids.push_back(ids[i++]);
      continue;
    }
    size_t run = 0;
    while (i + run < ids.size() && ids[i + run] == image_token_id) ++run;
    Check(next_image < images.size(), "the prompt has more image placeholders than the ",
          images.size(), " images given");
    const ImageEmbeddings& image = images[next_image];
    image.CheckGrids();
    const int64_t rows = image.rows.dim(0);
    Check(run == 1 || static_cast<int64_t>(run) == rows, "image ", next_image + 1, " has ", rows,
          " embeddings but the prompt holds a run of ", run, " image tokens");
    prompt.images.push_back({prompt.size(), &image});
    prompt.token_ids.insert(prompt.token_ids.end(), rows, image_token_id);
    ++next_image;
    i += run;
  }
  Check(next_image == images.size(), images.size(), " images given but the prompt has ", next_image,
        " image placeholders");
  return prompt;
}

int64_t Prompt::PositionSpan() const {
  if (positions.empty()) return size();
  int64_t largest = -1;
  for (const PositionId& p : positions) {
    largest = std::max({largest, p.temporal, p.height, p.width});
  }
  return largest + 1;
}

void Prompt::CheckPositions() const {
  Check(positions.empty() || static_cast<int64_t>(positions.size()) == size(), "the prompt has ",
        size(), " tokens but ", positions.size(), " position ids");
}

}  // namespace lightvlm
