#include "models/image_processor_file.h"

#include <filesystem>

#include "base/error.h"

namespace lightvlm {

JsonFile LoadImageProcessorJson(const std::string& directory) {
  namespace fs = std::filesystem;
  const fs::path processor_path = fs::path(directory) / "processor_config.json";
  const fs::path image_path = fs::path(directory) / "preprocessor_config.json";
  if (fs::exists(processor_path)) {
    const JsonFile processor = JsonFile::Load(processor_path.string());
    const nlohmann::json* nested = processor.Node("image_processor");
    if (nested != nullptr && !nested->is_null()) {
      Check(nested->is_object(), processor.path(), ": field 'image_processor' should be an object");
      return JsonFile::Parse(nested->dump(), processor.path() + ", field 'image_processor'");
    }
  }
  Check(fs::exists(image_path), directory,
        ": no image processor config: neither preprocessor_config.json nor an 'image_processor' "
        "object in processor_config.json");
  return JsonFile::Load(image_path.string());
}

}  // namespace lightvlm
