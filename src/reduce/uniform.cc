// Spatially uniform pruning, the control for "does the score matter, or only the count": keep
// tokens evenly spread over each image's grid (docs/ALGORITHM.md). No published code to follow.
//
//   stage   one, before layer K [fastv_layer = 2], with FastV's count rule (SingleStagePlan):
//           keep * L = K + (L - K) * R, or R = final_tokens / N; K moves earlier when needed.
//   split   with several images, the count is shared in proportion to their sizes, remainders
//           to the largest fractional parts (earlier image on ties), so the total is exact.
//   select  on a grid of h x w cells, `c` cells on a 2-D lattice: a rows, a ~ sqrt(c * h / w) so
//           that row and column spacings match, evenly spaced and centred; the c cells shared
//           over the rows as evenly as whole numbers allow; each row's cells evenly spaced and
//           centred. Exactly c cells, e.g. 9 of 6 x 6 is rows {1, 3, 5} x columns {1, 3, 5}.
//           The rest are dropped, no merging. No attention is recorded.
#include <algorithm>
#include <cmath>
#include <vector>

#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

// The row-major indices (ascending) of `count` cells evenly spread over a height x width grid.
std::vector<int64_t> LatticeCells(int64_t height, int64_t width, int64_t count) {
  if (count == 0) return {};
  const auto square_rows = std::llround(std::sqrt(static_cast<double>(count) * height / width));
  // At least ceil(count / width) rows so that no row needs more cells than it has.
  const int64_t rows =
      std::clamp<int64_t>(square_rows, (count + width - 1) / width, std::min(height, count));
  std::vector<int64_t> cells;
  for (int64_t j = 0; j < rows; ++j) {
    const int64_t row = (2 * j + 1) * height / (2 * rows);
    const int64_t in_row = (j + 1) * count / rows - j * count / rows;
    for (int64_t i = 0; i < in_row; ++i) {
      cells.push_back(row * width + (2 * i + 1) * width / (2 * in_row));
    }
  }
  return cells;
}

class UniformPrune : public TokenReducer {
 public:
  explicit UniformPrune(const ReducerOptions& options) : TokenReducer(options) {}

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return SingleStagePlan(options().fastv_layer, image_tokens, num_layers, options().budget);
  }

  bool NeedsAttention() const override { return false; }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* /*attention*/) override {
    KeepChosenPerImage(tokens, image_rows, keep, images(), "uniform",
                       [](const ImageRun& run, int64_t /*first*/, int64_t count) {
                         return LatticeCells(run.grid_height, run.grid_width, count);
                       });
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeUniformPrune(const ReducerOptions& options) {
  return std::make_unique<UniformPrune>(options);
}

}  // namespace lightvlm
