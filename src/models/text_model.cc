#include "models/text_model.h"

#include "base/error.h"
#include "io/safetensors.h"
#include "models/family_list.h"

namespace lightvlm {

TextModel::TextModel(const JsonFile& config, const std::string& directory, DType weight_dtype)
    : decoder_(ReadLlmConfig(config), Checkpoint::Open(directory), {}, weight_dtype) {}

TextModel::TextModel(const LlmConfig& config, const TensorSource& weights, DType weight_dtype)
    : decoder_(config, weights, {}, weight_dtype) {}

std::string TextModel::FormatPrompt(const std::string& question, int64_t num_images) const {
  Check(num_images == 0, family(), " is a text model and takes no images");
  return question;
}

ModelFamily TextModelFamily() {
  return {"text",
          {"llama", "qwen2"},
          [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
            return std::make_unique<TextModel>(config, directory, options.weight_dtype);
          },
          [](const JsonFile& config) { return DescribeLlmConfig(ReadLlmConfig(config)); }};
}

}  // namespace lightvlm
