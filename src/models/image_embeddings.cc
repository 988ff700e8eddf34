#include "models/image_embeddings.h"

#include "base/error.h"

namespace lightvlm {

void ImageEmbeddings::CheckGrids() const {
  int64_t total = 0;
  for (const ImageGrid& grid : grids) {
    Check(grid.height > 0 && grid.width > 0, "image grid of ", grid.height, "x", grid.width,
          " is empty");
    total += grid.size();
  }
  Check(rows.shape().size() == 2 && total == rows.dim(0), "image embeddings: ", grids.size(),
        " grids hold ", total, " rows but there are ",
        rows.shape().size() == 2 ? rows.dim(0) : int64_t{0});
  Check(vision_saliency.empty() || static_cast<int64_t>(vision_saliency.size()) == total,
        "image embeddings: ", vision_saliency.size(), " saliency values for ", total, " rows");
}

}  // namespace lightvlm
