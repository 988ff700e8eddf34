#include "models/language_model.h"

#include <filesystem>

#include "base/error.h"
#include "io/json_file.h"
#include "models/gguf_llm_config.h"
#include "models/gguf_tensor_source.h"
#include "models/model_family.h"
#include "models/text_model.h"

namespace lightvlm {

ImageEmbeddings LanguageModel::EncodeImage(ThreadPool&, const Image&) const {
  Fail(family(), " is a text model and takes no images");
}

std::string LanguageModel::FormatPrompt(const std::string& question, int64_t num_images) const {
  const ChatMessage message{"user", question, num_images};
  return FormatConversation(std::span(&message, 1));
}

std::string LanguageModel::ExpandImagePlaceholders(const std::string& text,
                                                   std::span<const ImageEmbeddings>) const {
  return text;
}

std::vector<PositionId> LanguageModel::PromptPositions(std::span<const int32_t>,
                                                       std::span<const ImageEmbeddings>) const {
  return {};
}

std::string DescribeLlmConfig(const LlmConfig& c) {
  return StrCat("decoder: ", c.model_type, ", ", c.num_layers, " layers, hidden ", c.hidden_size,
                ", MLP ", c.intermediate_size, ", heads ", c.num_heads, " (KV heads ",
                c.num_kv_heads, ", head dim ", c.head_dim, "), vocab ", c.vocab_size, ", context ",
                c.max_position_embeddings, ", RoPE theta ", c.rope_theta, " (", c.rope_scaling.kind,
                ")", c.tie_word_embeddings ? ", tied embeddings" : "", "\n");
}

std::string DescribeModelConfig(const JsonFile& config) {
  return FindModelFamily(config).describe(config);
}

std::unique_ptr<LanguageModel> LoadLanguageModel(const std::string& directory,
                                                 const LoadOptions& options) {
  namespace fs = std::filesystem;
  Check(fs::is_directory(directory), directory, ": not a model directory");
  const JsonFile config = JsonFile::Load((fs::path(directory) / "config.json").string());
  CheckWeightDType(options.weight_dtype);
  return FindModelFamily(config).load(config, directory, options);
}

std::unique_ptr<LanguageModel> LoadGgufLanguageModel(const GgufFile& file, DType weight_dtype) {
  CheckWeightDType(weight_dtype);
  const LlmConfig config = LlmConfigFromGguf(file);
  return std::make_unique<TextModel>(config, GgufTensorSource(file, config), weight_dtype,
                                     ChatFormat::FromGguf(file));
}

}  // namespace lightvlm
