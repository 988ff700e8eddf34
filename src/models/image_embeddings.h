// What a model family makes of one image: a run of embedding rows in the LLM's space, laid out as
// one or more grids. LLaVA-1.5 gives one grid; InternVL one per tile and one for its thumbnail;
// LLaVA-NeXT one per crop. The reducers that use spatial layout (uniform) read the grids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/tensor.h"

namespace lightvlm {

// Not ImageGridThw (image_grid.h): that counts vision patches before the merge, with time.
struct ImageGrid {
  int64_t height = 0;
  int64_t width = 0;
  int64_t size() const { return height * width; }
};

struct ImageEmbeddings {
  Tensor rows;                   // [sum of the grids' sizes, hidden_size]: grid after grid, each
                                 // in row-major order
  std::vector<ImageGrid> grids;  // in the order of their rows
  // The text the image stands as in the prompt when the family's processor writes more than its
  // image tokens (SmolVLM: each sub-image's run of image tokens between row and column markers);
  // empty when the family's placeholder expansion is all there is.
  std::string prompt_text;
  // [rows] how much the vision tower's class token attends to each row (VisionZip's dominant
  // tokens); empty when the tower gives none.
  std::vector<float> vision_saliency;

  // Fails unless the grids together hold exactly the rows.
  void CheckGrids() const;
};

}  // namespace lightvlm
