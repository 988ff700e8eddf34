#include "models/model_family.h"

#include <algorithm>

#include "base/error.h"
#include "models/family_list.h"

namespace lightvlm {

const std::vector<ModelFamily>& ModelFamilies() {
  static const std::vector<ModelFamily> families = {
      TextModelFamily(), LlavaFamily(), InternVLFamily(), SmolVLMFamily(), Qwen2VlFamily(),
  };
  return families;
}

const ModelFamily& FindModelFamily(const JsonFile& config) {
  const std::string model_type = config.Get<std::string>("model_type");
  std::string supported;
  for (const ModelFamily& family : ModelFamilies()) {
    const std::vector<std::string>& types = family.model_types;
    if (std::find(types.begin(), types.end(), model_type) != types.end()) return family;
    for (const std::string& type : types) supported += (supported.empty() ? "" : ", ") + type;
  }
  Fail(config.path(), ": model_type '", model_type, "' is not supported (supported: ", supported,
       ")");
}

}  // namespace lightvlm
