// The rescale and normalize steps that Hugging Face image processors share (CLIP, InternVL,
// Qwen2-VL, ...), and their PIL resample filter: read from a processor config once, and applied
// through one table of every (channel, byte) value.
#pragma once

#include <array>

#include "io/image_resize.h"
#include "io/json_file.h"

namespace lightvlm {

struct PixelScaling {
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  // One value per RGB channel; a single number in the file applies to all three, null the
  // default (as transformers). Defaults are OpenAI CLIP's. Stored as float32, as transformers
  // casts them before normalizing.
  std::array<float, 3> image_mean = {0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> image_std = {0.26862954f, 0.26130258f, 0.27577711f};
};

// do_rescale, rescale_factor, do_normalize, image_mean and image_std over `defaults`; errors name
// the file and the field (a rescale factor that is not positive, a zero std).
PixelScaling ReadPixelScaling(const JsonFile& file, const PixelScaling& defaults = {});

// Value of every (channel, byte) after rescale and normalize: the output depends on nothing else,
// so a 3 x 256 table computes each one once, with numpy's exact operations and precisions:
// float32(float64(byte) * factor), then (x - mean) / std in float32.
std::array<std::array<float, 256>, 3> PixelValueTable(const PixelScaling& scaling);

// "resample", a PIL filter id; `fallback` when absent.
ResampleFilter ReadResampleFilter(const JsonFile& file, ResampleFilter fallback);

}  // namespace lightvlm
