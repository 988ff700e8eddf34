#include "models/llava_processor.h"

#include <filesystem>

#include "base/error.h"
#include "io/json_file.h"
#include "models/image_processor_file.h"

namespace lightvlm {

std::optional<int64_t> LlavaProcessorConfig::ImageTokens(int64_t height, int64_t width) const {
  if (!patch_size || vision_feature_select_strategy.empty()) return std::nullopt;
  const int64_t tokens =
      (height / *patch_size) * (width / *patch_size) + num_additional_image_tokens;
  return vision_feature_select_strategy == "default" ? tokens - 1 : tokens;
}

LlavaProcessorConfig LoadLlavaProcessorConfig(const std::string& directory) {
  namespace fs = std::filesystem;
  LlavaProcessorConfig config;
  const JsonFile image = LoadImageProcessorJson(directory);
  config.image_source = image.path();
  config.image = ReadClipImageProcessorConfig(image);
  const fs::path processor_path = fs::path(directory) / "processor_config.json";
  config.path = processor_path.string();
  std::optional<JsonFile> processor;
  if (fs::exists(processor_path)) processor = JsonFile::Load(processor_path.string());
  if (!processor) return config;

  config.patch_size = processor->Find<int64_t>("patch_size");
  Check(!config.patch_size || *config.patch_size > 0, config.path,
        ": field 'patch_size' must be positive, got ", config.patch_size.value_or(0));
  config.vision_feature_select_strategy =
      processor->GetOr<std::string>("vision_feature_select_strategy", "");
  const std::string& strategy = config.vision_feature_select_strategy;
  Check(strategy.empty() || strategy == "default" || strategy == "full", config.path,
        ": field 'vision_feature_select_strategy' '", strategy,
        "' is not supported (default, full)");
  config.num_additional_image_tokens =
      processor->GetOr<int64_t>("num_additional_image_tokens", config.num_additional_image_tokens);
  Check(config.num_additional_image_tokens >= 0, config.path,
        ": field 'num_additional_image_tokens' must not be negative, got ",
        config.num_additional_image_tokens);
  return config;
}

}  // namespace lightvlm
