// What an InternVL checkpoint's config.json says about its vision side (InternViT, pixel shuffle,
// projector), read from either of its two formats:
//   * transformers' InternVLForConditionalGeneration (model_type "internvl", the "-hf"
//     checkpoints): vision_config is an InternVLVisionConfig (use_qk_norm, attention_bias,
//     image_size and patch_size as [h, w] or one number, use_mean_pooling), with
//     vision_feature_layer, vision_feature_select_strategy, projector_hidden_act and text_config;
//   * OpenGVLab's InternVLChatModel (model_type "internvl_chat", as published): vision_config is
//     an InternVisionConfig (qk_normalization, qkv_bias, image_size), with select_layer,
//     force_image_size, ps_version and llm_config; its projector (mlp1) always uses exact GELU.
// Absent fields take the defaults of the format's own config class, as hub checkpoints rely on
// them.
#pragma once

#include <cstdint>
#include <string>

#include "io/json_file.h"
#include "models/internvit.h"

namespace lightvlm {

enum class InternVLConfigFormat {
  kTransformers,  // InternVLConfig
  kOpenGVLab,     // InternVLChatConfig
};

struct InternVLVisionConfig {
  InternVLConfigFormat format = InternVLConfigFormat::kTransformers;
  InternViTConfig vision;
  // The side of the tiles the model is given, in pixels: OpenGVLab's force_image_size when set,
  // else the tower's image_size. transformers' format has no such field (its processor's size
  // decides). A tile of another size still runs, with resized positions.
  int64_t tile_size = 448;
  std::string projector_act = "gelu";
  int64_t text_hidden_size = 0;  // the LLM's width, the projector's output

  // Image tokens per tile of `tile_size`: the patch grid's tokens after the 2x2 pixel shuffle
  // (checked to be whole for OpenGVLab's format).
  int64_t tokens_per_tile() const {
    const int64_t side = tile_size / vision.patch_size;
    return side * side / 4;
  }
};

// Reads and validates the fields; the format is the one model_type names ("internvl",
// "internvl_chat"), else the one whose LLM field (text_config, llm_config) is present. Errors name
// the file and the field; what this engine does not implement (downsample_ratio other than 0.5,
// ps_version other than "v2", vision_feature_select_strategy "full", a list of feature layers, a
// non-square image or patch size, OpenGVLab tiles of an odd number of patches) is refused.
InternVLVisionConfig ReadInternVLVisionConfig(const JsonFile& config);

}  // namespace lightvlm
