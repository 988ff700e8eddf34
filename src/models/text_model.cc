#include "models/text_model.h"

#include <array>
#include <string_view>

#include "base/error.h"
#include "io/safetensors.h"
#include "models/family_list.h"
#include "models/internlm2_tensor_source.h"

namespace lightvlm {
namespace {

// How each text model_type's checkpoint names its tensors: as the decoder does (Llama's names,
// `present` null), or through a table that presents them so.
struct TextCheckpointLayout {
  std::string_view model_type;
  std::unique_ptr<TensorSource> (*present)(const TensorSource& checkpoint, const LlmConfig& config);
};

std::unique_ptr<TensorSource> PresentInternLM2(const TensorSource& checkpoint,
                                               const LlmConfig& config) {
  return std::make_unique<InternLM2TensorSource>(checkpoint, config);
}

constexpr std::array<TextCheckpointLayout, 3> kTextLayouts = {{
    {"llama", nullptr},
    {"qwen2", nullptr},
    {"internlm2", &PresentInternLM2},
}};

Decoder LoadDecoder(const JsonFile& config_file, const std::string& directory, DType weight_dtype) {
  const LlmConfig config = ReadLlmConfig(config_file);
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  for (const TextCheckpointLayout& layout : kTextLayouts) {
    if (layout.model_type != config.model_type) continue;
    if (layout.present == nullptr) return Decoder(config, checkpoint, {}, weight_dtype);
    return Decoder(config, *layout.present(checkpoint, config), {}, weight_dtype);
  }
  Fail(config_file.path(), ": model_type '", config.model_type, "' is not a text model");
}

}  // namespace

TextModel::TextModel(const JsonFile& config, const std::string& directory, DType weight_dtype)
    : decoder_(LoadDecoder(config, directory, weight_dtype)), chat_(ChatFormat::Find(directory)) {}

TextModel::TextModel(const LlmConfig& config, const TensorSource& weights, DType weight_dtype,
                     std::optional<ChatFormat> chat)
    : decoder_(config, weights, {}, weight_dtype), chat_(std::move(chat)) {}

std::string TextModel::FormatConversation(std::span<const ChatMessage> messages) const {
  for (const ChatMessage& message : messages) {
    Check(message.images == 0, family(), " is a text model and takes no images");
  }
  if (chat_) return chat_->Render(messages, ImagesInMessage::kTextPrefix);
  Check(messages.size() == 1 && messages[0].role == "user", family(),
        ": a conversation of several turns needs a chat template, and this model has none");
  return messages[0].text;
}

ModelFamily TextModelFamily() {
  std::vector<std::string> model_types;
  for (const TextCheckpointLayout& layout : kTextLayouts) {
    model_types.emplace_back(layout.model_type);
  }
  return {"text", model_types,
          [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
            return std::make_unique<TextModel>(config, directory, options.weight_dtype);
          },
          [](const JsonFile& config) { return DescribeLlmConfig(ReadLlmConfig(config)); }};
}

}  // namespace lightvlm
