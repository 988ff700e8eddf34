#include "models/llava_tensor_layout.h"

#include <algorithm>

#include "base/error.h"

namespace lightvlm {

std::vector<std::string> LlavaTensorLayout::MarkerTensors() const {
  return {decoder.prefix + "embed_tokens.weight", vision + "embeddings.patch_embedding.weight",
          projector + "linear_1.weight"};
}

const std::vector<LlavaTensorLayout>& LlavaTensorLayouts() {
  static const std::vector<LlavaTensorLayout> layouts = {
      {"original (transformers up to 4.51, and 5.x's default save_pretrained)",
       {"language_model.model.", "language_model.lm_head.weight"},
       "vision_tower.vision_model.",
       "multi_modal_projector."},
      {"transformers 4.52 to 4.57",
       {"model.language_model.", "lm_head.weight"},
       "model.vision_tower.vision_model.",
       "model.multi_modal_projector."},
      // 5.x's CLIPVisionModel holds the embeddings and encoder itself, without a vision_model.
      {"transformers 5.x, save_pretrained(save_original_format=False)",
       {"model.language_model.", "lm_head.weight"},
       "model.vision_tower.",
       "model.multi_modal_projector."},
  };
  return layouts;
}

const LlavaTensorLayout& FindLlavaTensorLayout(const Checkpoint& checkpoint) {
  const auto holds = [&](const std::string& name) { return checkpoint.Contains(name); };
  std::string expected;
  for (const LlavaTensorLayout& layout : LlavaTensorLayouts()) {
    const std::vector<std::string> markers = layout.MarkerTensors();
    if (std::all_of(markers.begin(), markers.end(), holds)) return layout;
    expected += StrCat("\n  ", layout.name, ":");
    for (const std::string& marker : markers) expected += StrCat(" ", marker);
  }
  Fail(checkpoint.directory(),
       ": the tensor names fit no LLaVA layout; each layout expects all of its tensors:", expected);
}

}  // namespace lightvlm
