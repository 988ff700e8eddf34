// One declaration per family file; model_family.cc lists them.
#pragma once

#include "models/model_family.h"

namespace lightvlm {

ModelFamily TextModelFamily();  // text_model.cc: llama, qwen2, internlm2
ModelFamily LlavaFamily();      // llava.cc
ModelFamily InternVLFamily();   // internvl.cc: InternVL2.5 / 3, OpenGVLab's and -hf layouts
ModelFamily SmolVLMFamily();    // smolvlm.cc: SmolVLM, Idefics3
ModelFamily Qwen2VlFamily();    // qwen2vl.cc: Qwen2-VL, Qwen2.5-VL

}  // namespace lightvlm
