// LlavaProcessor's files: the CLIP image processor, and the fields that decide how many image
// tokens the processor puts in a prompt for each image. transformers 5.x nests the image processor
// under "image_processor" in processor_config.json and writes no preprocessor_config.json; earlier
// versions wrote preprocessor_config.json beside a processor_config.json of LlavaProcessor's own
// fields (or none).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "models/clip_image_processor.h"

namespace lightvlm {

struct LlavaProcessorConfig {
  ClipImageProcessorConfig image;
  std::string image_source;  // where `image` was read from, for messages
  std::string path;          // processor_config.json (it may be absent)

  // processor_config.json's fields. Without patch_size or vision_feature_select_strategy the
  // processor leaves a single <image> in the prompt and the model expands it.
  std::optional<int64_t> patch_size;
  std::string vision_feature_select_strategy;  // "default", "full", or "" when absent
  // Tokens beyond one per patch (1: the class token). Absent, it is 1: transformers up to 4.46
  // always added it; later versions read a missing field as 0 (and then refuse the checkpoint:
  // one image token fewer than image features), the hub's files give it as 1.
  int64_t num_additional_image_tokens = 1;

  // Image tokens per image of pixel values height x width, as LlavaProcessor counts them:
  // patches + num_additional_image_tokens, less one with the "default" strategy (the class token
  // dropped); nullopt when the processor does not expand <image>.
  std::optional<int64_t> ImageTokens(int64_t height, int64_t width) const;
};

// Reads the processor of the checkpoint at `directory`: the image processor from
// processor_config.json's "image_processor" when present (5.x reads it first), else from
// preprocessor_config.json. Fails naming both files when neither has it, and naming the file and
// field of a bad value.
LlavaProcessorConfig LoadLlavaProcessorConfig(const std::string& directory);

}  // namespace lightvlm
