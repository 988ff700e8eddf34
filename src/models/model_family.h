// The model families by config.json's model_type. A family is one registered unit: it recognises
// its checkpoints, loads them (tensor tables, vision tower, projector, decoder, chat format) and
// describes them for `lightvlm inspect`. Adding a family is one file (or folder) and one line in
// model_family.cc.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "io/json_file.h"
#include "models/language_model.h"

namespace lightvlm {

struct ModelFamily {
  std::string name;
  std::vector<std::string> model_types;  // config.json's model_type values it loads
  // Builds the model from its parsed config.json and the checkpoint directory.
  std::function<std::unique_ptr<LanguageModel>(const JsonFile& config, const std::string& directory,
                                               const LoadOptions& options)>
      load;
  // One line per part (vision tower, projector, decoder); reads no weights.
  std::function<std::string(const JsonFile& config)> describe;
};

// Every family, in registration order.
const std::vector<ModelFamily>& ModelFamilies();

// The family that loads config.json's model_type; fails naming the file, the model_type and the
// supported ones.
const ModelFamily& FindModelFamily(const JsonFile& config);

}  // namespace lightvlm
