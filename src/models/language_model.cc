#include "models/language_model.h"

#include <filesystem>

#include "base/error.h"
#include "io/json_file.h"
#include "models/gguf_llm_config.h"
#include "models/gguf_tensor_source.h"
#include "models/llava.h"
#include "models/text_model.h"

namespace lightvlm {

ImageEmbeddings LanguageModel::EncodeImage(ThreadPool&, const Image&) const {
  Fail(family(), " is a text model and takes no images");
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
  const std::string model_type = config.Get<std::string>("model_type");
  if (model_type != "llava") return DescribeLlmConfig(ReadLlmConfig(config));
  const LlavaConfig c = ReadLlavaConfig(config);
  return StrCat("vision: CLIP, ", c.vision.num_layers, " layers (features of layer ",
                c.vision_layers_used(), "), hidden ", c.vision.hidden_size, ", heads ",
                c.vision.num_heads, ", ", c.vision.image_size, " px in ", c.vision.patch_size,
                " px patches: ", c.vision.num_patches(), " image tokens\n",
                "projector: 2-layer MLP (", c.projector_hidden_act, "), image token id ",
                c.image_token_id, "\n", DescribeLlmConfig(c.text));
}

std::unique_ptr<LanguageModel> LoadLanguageModel(const std::string& directory, DType weight_dtype) {
  namespace fs = std::filesystem;
  Check(fs::is_directory(directory), directory, ": not a model directory");
  const JsonFile config = JsonFile::Load((fs::path(directory) / "config.json").string());
  const std::string model_type = config.Get<std::string>("model_type");
  CheckWeightDType(weight_dtype);
  if (model_type == "llava") return std::make_unique<LlavaModel>(config, directory, weight_dtype);
  if (model_type == "llama" || model_type == "qwen2") {
    return std::make_unique<TextModel>(config, directory, weight_dtype);
  }
  Fail(config.path(), ": model_type '", model_type,
       "' is not supported (supported: llama, qwen2, llava)");
}

std::unique_ptr<LanguageModel> LoadGgufLanguageModel(const GgufFile& file, DType weight_dtype) {
  CheckWeightDType(weight_dtype);
  const LlmConfig config = LlmConfigFromGguf(file);
  return std::make_unique<TextModel>(config, GgufTensorSource(file, config), weight_dtype);
}

}  // namespace lightvlm
