// VisionZip (Yang et al., "VisionZip: Longer is Better but Not Necessary in Vision Language
// Models", CVPR 2025; code: github.com/dvlab-research/VisionZip), as a baseline on the same budget
// (docs/ALGORITHM.md).
//
//   stage       one, before layer 0 (before the LLM), keeping R = keep of the image tokens (the
//               average share is R itself), or R = final_tokens / N; shared over the images (grids,
//               e.g. InternVL's tiles) in proportion to their sizes, each reduced on its own.
//   dominant    of an image's k kept tokens, k - c are the ones the vision tower's class token
//               attends to most (ImageRun::vision_saliency: its last layer run, averaged over
//               heads), c = round(k * visionzip_contextual_share) [10/64, VisionZip's 54 + 10].
//   contextual  the other tokens in their order; c targets among them evenly spaced (every
//               max(1, floor(rest / c))-th from the first), and each other token joins the target
//               whose embedding is most similar by cosine (the earlier on ties). A target's row
//               becomes its own plus the mean of those joining it (VisionZip's sum, kept as its
//               code has it); it stays at its own position.
// Text tokens are never touched. A model whose vision tower gives no saliency is refused.
#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "reduce/reducer_factories.h"
#include "reduce/reduction_util.h"

namespace lightvlm {
namespace {

class VisionZip : public TokenReducer {
 public:
  explicit VisionZip(const ReducerOptions& options) : TokenReducer(options) {
    Check(options.visionzip_contextual_share >= 0 && options.visionzip_contextual_share <= 1,
          "visionzip: the contextual share must be in [0, 1], got ",
          options.visionzip_contextual_share);
  }

 protected:
  std::vector<ReductionStage> Plan(int64_t image_tokens, int64_t num_layers) const override {
    return GeometricPlan({0}, image_tokens, num_layers, options().budget);
  }

  bool ReducesBeforeTheLlmOnly() const override { return true; }
  bool NeedsAttention() const override { return false; }

  void Reduce(DecoderTokens& tokens, const std::vector<int64_t>& image_rows, int64_t keep,
              const LayerAttention* /*attention*/) override {
    KeepChosenPerImage(
        tokens, image_rows, keep, images(), "visionzip",
        [&](const ImageRun& run, int64_t first, int64_t count) {
          Check(!run.vision_saliency.empty(), "visionzip: the image at token ", run.start,
                " comes without its vision tower's attention (the llava, internvl and smolvlm "
                "families give it); this model family's image encoder provides none, so choose "
                "another reducer");
          return ZipImage(tokens, image_rows, first, run, count);
        });
  }

 private:
  // Keeps `count` of the run's tokens (returned ascending, relative to `first`), merging the
  // contextual ones' groups into their rows of `tokens`.
  std::vector<int64_t> ZipImage(DecoderTokens& tokens, const std::vector<int64_t>& image_rows,
                                int64_t first, const ImageRun& run, int64_t count) const {
    const auto contextual = std::min<int64_t>(
        count, std::llround(static_cast<double>(count) * options().visionzip_contextual_share));
    const std::vector<double> saliency(run.vision_saliency.begin(), run.vision_saliency.end());
    std::vector<int64_t> kept = TopIndices(saliency, count - contextual);
    if (contextual == 0) return kept;
    std::vector<bool> dominant(run.size(), false);
    for (int64_t index : kept) dominant[index] = true;
    std::vector<int64_t> rest;  // rows of `tokens`
    for (int64_t index = 0; index < run.size(); ++index) {
      if (!dominant[index]) rest.push_back(image_rows[first + index]);
    }
    const int64_t step = std::max<int64_t>(1, static_cast<int64_t>(rest.size()) / contextual);
    std::vector<int64_t> targets;  // indices into `rest`
    for (int64_t t = 0; t < contextual; ++t) targets.push_back(t * step);
    MergeIntoTargets(tokens, rest, targets);
    for (int64_t target : targets) {
      kept.push_back(tokens.token_index[rest[target]] - run.start);
    }
    std::sort(kept.begin(), kept.end());
    return kept;
  }

  // Each of `rows` that is not a target joins its most similar target; each target's row becomes
  // itself plus the mean of those joining it.
  static void MergeIntoTargets(DecoderTokens& tokens, const std::vector<int64_t>& rows,
                               const std::vector<int64_t>& targets) {
    const int64_t width = tokens.hidden.dim(1);
    const auto unit = UnitRows(tokens.hidden.f32(), width, rows);
    std::vector<bool> is_target(rows.size(), false);
    for (int64_t target : targets) is_target[target] = true;
    std::vector<double> sum(targets.size() * width, 0.0);
    std::vector<int64_t> joined(targets.size(), 0);
    for (size_t i = 0; i < rows.size(); ++i) {
      if (is_target[i]) continue;
      size_t best = 0;
      double best_similarity = -INFINITY;
      for (size_t t = 0; t < targets.size(); ++t) {
        const double similarity = Dot(unit[i], unit[targets[t]]);
        if (similarity > best_similarity) {
          best_similarity = similarity;
          best = t;
        }
      }
      const float* h = tokens.hidden.f32() + rows[i] * width;
      for (int64_t j = 0; j < width; ++j) sum[best * width + j] += h[j];
      ++joined[best];
    }
    for (size_t t = 0; t < targets.size(); ++t) {
      if (joined[t] == 0) continue;
      float* h = tokens.hidden.f32() + rows[targets[t]] * width;
      for (int64_t j = 0; j < width; ++j) {
        h[j] += static_cast<float>(sum[t * width + j] / static_cast<double>(joined[t]));
      }
    }
  }
};

}  // namespace

std::unique_ptr<TokenReducer> MakeVisionZip(const ReducerOptions& options) {
  return std::make_unique<VisionZip>(options);
}

}  // namespace lightvlm
