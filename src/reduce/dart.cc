// DART (Wen et al., "Stop Looking for Important Tokens in Multimodal Language Models: Duplication
// Matters More", 2025; code: github.com/ZichenWen1/DART), as a baseline on the same budget
// (docs/ALGORITHM.md).
//
//   stage   one, before layer K [fastv_layer = 2, as fastv], with FastV's count rule
//           (SingleStagePlan): keep * L = K + (L - K) * R, or R = final_tokens / N.
//   pivots  the P [dart_image_pivots = 4] image tokens and the T [dart_text_pivots = 4] scoring
//           rows (the question span) whose keys at layer K - 1 have the largest L1 norm.
//   select  the image pivots are kept; the rest of the budget is shared over the P + T pivots as
//           evenly as whole tokens allow (the earlier pivots get the spare ones), and each pivot
//           in prompt order keeps its share of the not yet kept image tokens whose hidden states
//           (the input of layer K) are least similar to its own by cosine. The rest are dropped,
//           no merging: duplicates of the pivots go.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

// The L1 norm of each of `rows` of `keys` [n, width].
std::vector<double> KeyL1Norms(const Tensor& keys, const std::vector<int64_t>& rows) {
  const int64_t width = keys.dim(1);
  std::vector<double> norms(rows.size(), 0.0);
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* key = keys.f32() + rows[i] * width;
    for (int64_t j = 0; j < width; ++j) norms[i] += std::fabs(key[j]);
  }
  return norms;
}

class Dart : public TokenReducer {
 public:
  explicit Dart(const ReducerOptions& options) : TokenReducer(options) {
    Check(options.dart_image_pivots >= 0 && options.dart_text_pivots >= 0 &&
              options.dart_image_pivots + options.dart_text_pivots >= 1,
          "dart: the pivot counts must be >= 0 and not both 0, got ", options.dart_image_pivots,
          " image and ", options.dart_text_pivots, " text pivots");
  }

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return SingleStagePlan(options().fastv_layer, image_tokens, num_layers, options().budget);
  }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* attention) override {
    const int64_t image_pivots = std::min(options().dart_image_pivots, keep);
    std::vector<int64_t> kept =
        TopIndices(KeyL1Norms(attention->keys, image_rows), image_pivots);  // into image_rows
    const std::vector<int64_t>& text_rows = attention->query_rows;
    std::vector<int64_t> pivot_rows;
    for (int64_t index : kept) pivot_rows.push_back(image_rows[index]);
    for (int64_t index :
         TopIndices(KeyL1Norms(attention->keys, text_rows), options().dart_text_pivots)) {
      pivot_rows.push_back(text_rows[index]);
    }

    const int64_t width = tokens.hidden.dim(1);
    std::vector<bool> taken(image_rows.size(), false);
    for (int64_t index : kept) taken[index] = true;
    const auto unit = UnitRows(tokens.hidden.f32(), width, image_rows);
    const auto pivot_unit = UnitRows(tokens.hidden.f32(), width, pivot_rows);
    const int64_t rest = keep - image_pivots, pivots = static_cast<int64_t>(pivot_rows.size());
    for (int64_t p = 0; p < pivots; ++p) {
      const int64_t share = rest / pivots + (p < rest % pivots ? 1 : 0);
      // The least similar first; ties to the earlier token.
      std::vector<double> dissimilarity(image_rows.size());
      for (size_t i = 0; i < image_rows.size(); ++i) {
        dissimilarity[i] = taken[i] ? -INFINITY : -Dot(unit[i], pivot_unit[p]);
      }
      for (int64_t index : TopIndices(dissimilarity, share)) {
        taken[index] = true;
        kept.push_back(index);
      }
    }
    std::sort(kept.begin(), kept.end());
    KeepImageRows(tokens, image_rows, kept);
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeDart(const ReducerOptions& options) {
  return std::make_unique<Dart>(options);
}

}  // namespace lightvlm
