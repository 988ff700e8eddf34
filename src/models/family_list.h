// One declaration per family file; model_family.cc lists them.
#pragma once

#include "models/model_family.h"

namespace lightvlm {

ModelFamily TextModelFamily();  // text_model.cc: llama, qwen2, internlm2
ModelFamily LlavaFamily();      // llava.cc

}  // namespace lightvlm
