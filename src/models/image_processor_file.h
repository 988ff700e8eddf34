// Where a checkpoint keeps its image processor's fields: transformers 5.x nests them under
// "image_processor" in processor_config.json and writes no preprocessor_config.json; earlier
// versions (and most hub checkpoints) write preprocessor_config.json.
#pragma once

#include <string>

#include "io/json_file.h"

namespace lightvlm {

// The image processor's fields of the checkpoint at `directory`, as a JsonFile whose path names
// where they came from (for errors): processor_config.json's "image_processor" object when present
// (transformers 5.x reads it first), else preprocessor_config.json. Fails naming both files when
// neither has them.
JsonFile LoadImageProcessorJson(const std::string& directory);

}  // namespace lightvlm
