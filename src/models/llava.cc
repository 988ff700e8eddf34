#include "models/llava.h"

#include <cstring>
#include <optional>
#include <vector>

#include "base/error.h"
#include "io/chat_template.h"
#include "models/family_list.h"
#include "models/llava_tensor_layout.h"

namespace lightvlm {
namespace {

// transformers' LlamaConfig defaults, for text_config fields a checkpoint leaves out.
const nlohmann::json kLlamaDefaults = {
    {"model_type", "llama"},   {"hidden_size", 4096},         {"intermediate_size", 11008},
    {"num_hidden_layers", 32}, {"num_attention_heads", 32},   {"max_position_embeddings", 2048},
    {"rms_norm_eps", 1e-6},    {"vocab_size", 32000},         {"rope_theta", 10000.0},
    {"hidden_act", "silu"},    {"tie_word_embeddings", false}};

}  // namespace

int64_t LlavaConfig::vision_layers_used() const {
  return vision_feature_layer >= 0 ? vision_feature_layer
                                   : vision.num_layers + 1 + vision_feature_layer;
}

LlavaConfig ReadLlavaConfig(const JsonFile& config) {
  nlohmann::json merged = config.root();
  nlohmann::json text = kLlamaDefaults;
  if (const nlohmann::json* given = config.Node("text_config"); given && given->is_object()) {
    text.update(*given);
  }
  merged["text_config"] = text;
  const JsonFile with_defaults = JsonFile::Parse(merged.dump(), config.path());

  LlavaConfig c;
  c.text = ReadLlmConfig(with_defaults, "text_config.");
  c.vision = ReadClipVisionConfig(config, "vision_config.");
  c.image_token_id = config.GetOr<int32_t>("image_token_index", c.image_token_id);
  c.projector_hidden_act = config.GetOr<std::string>("projector_hidden_act", "gelu");
  CheckActivation(c.projector_hidden_act, config.path() + ": projector_hidden_act");
  c.projector_bias = config.GetOr<bool>("multimodal_projector_bias", true);
  c.vision_feature_layer = config.GetOr<int64_t>("vision_feature_layer", -2);
  const int64_t used = c.vision_layers_used();
  Check(used >= 0 && used <= c.vision.num_layers, config.path(), ": vision_feature_layer (",
        c.vision_feature_layer, ") is outside the ", c.vision.num_layers, " vision layers");
  const auto strategy = config.GetOr<std::string>("vision_feature_select_strategy", "default");
  Check(strategy == "default" || strategy == "full", config.path(),
        ": vision_feature_select_strategy '", strategy, "' is not supported (default, full)");
  c.keep_class_token = strategy == "full";
  Check(c.image_token_id >= 0 && c.image_token_id < c.text.vocab_size, config.path(),
        ": image_token_index (", c.image_token_id, ") is outside the vocabulary of ",
        c.text.vocab_size);
  return c;
}

LlavaModel::LlavaModel(const JsonFile& config, const std::string& directory, DType weight_dtype)
    : config_(ReadLlavaConfig(config)), processor_(LoadLlavaProcessorConfig(directory)) {
  const ClipImageProcessorConfig& image = processor_.image;
  Check(!image.do_center_crop || (image.crop_height == config_.vision.image_size &&
                                  image.crop_width == config_.vision.image_size),
        processor_.image_source, ": crop_size ", image.crop_height, "x", image.crop_width,
        " differs from the vision tower's image_size ", config_.vision.image_size);
  CheckImageTokens();
  const std::optional<ChatTemplateSource> chat_template = FindChatTemplate(directory);
  // Vicuna-style templates (LLaVA-1.5) end the prompt with "ASSISTANT:"; others ([INST], ChatML)
  // are refused rather than guessed.
  Check(!chat_template || chat_template->text.find("ASSISTANT:") != std::string::npos,
        chat_template ? chat_template->origin : directory,
        ": the chat template is not LLaVA-1.5's (\"USER: <image>\\n... ASSISTANT:\"); other LLaVA "
        "chat formats are not supported yet");
  chat_ = ChatFormat::Find(directory);
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  const LlavaTensorLayout& layout = FindLlavaTensorLayout(checkpoint);
  vision_ = std::make_unique<ClipVisionTower>(config_.vision, checkpoint, layout.vision,
                                              config_.vision_layers_used(), weight_dtype);
  const int64_t vision_hidden = config_.vision.hidden_size, text_hidden = config_.text.hidden_size;
  projector_in_ = LoadLinear(checkpoint, layout.projector + "linear_1", text_hidden, vision_hidden,
                             config_.projector_bias, weight_dtype);
  projector_out_ = LoadLinear(checkpoint, layout.projector + "linear_2", text_hidden, text_hidden,
                              config_.projector_bias, weight_dtype);
  decoder_ = std::make_unique<Decoder>(config_.text, checkpoint, layout.decoder, weight_dtype);
}

int64_t LlavaModel::image_features() const {
  return config_.vision.num_patches() + (config_.keep_class_token ? 1 : 0);
}

// transformers' processor puts its own count of image tokens in the prompt, and the model refuses
// a prompt whose count differs from its image features; such a checkpoint is refused here at load.
void LlavaModel::CheckImageTokens() const {
  const int64_t size = config_.vision.image_size;
  const std::optional<int64_t> tokens = processor_.ImageTokens(size, size);
  Check(!tokens || *tokens == image_features(), processor_.path, ": patch_size ",
        processor_.patch_size.value_or(0), ", num_additional_image_tokens ",
        processor_.num_additional_image_tokens, " and vision_feature_select_strategy '",
        processor_.vision_feature_select_strategy, "' give ", tokens.value_or(0),
        " image tokens per ", size, "x", size,
        " image, but the model (config.json: "
        "vision_feature_select_strategy '",
        config_.keep_class_token ? "full" : "default", "') makes ", image_features(),
        " image features");
}

std::string LlavaModel::FormatConversation(std::span<const ChatMessage> messages) const {
  if (chat_) return chat_->Render(messages, ImagesInMessage::kContentParts);
  // Without a template, LLaVA-1.5's format of one question, as its template renders it.
  Check(messages.size() == 1 && messages[0].role == "user",
        "llava: a conversation of several turns needs the checkpoint's chat template");
  std::string prompt = "USER: ";
  for (int64_t i = 0; i < messages[0].images; ++i) prompt += "<image>\n";
  return prompt + messages[0].text + " ASSISTANT:";
}

Tensor LlavaModel::Project(ThreadPool& pool, const Tensor& features) const {
  const int64_t rows = features.dim(0);
  Tensor hidden(DType::kF32, {rows, config_.text.hidden_size});
  projector_in_.Forward(pool, features.f32(), rows, hidden.f32());
  ApplyActivation(pool, config_.projector_hidden_act, hidden.f32(), hidden.num_elements());
  Tensor projected(DType::kF32, {rows, config_.text.hidden_size});
  projector_out_.Forward(pool, hidden.f32(), rows, projected.f32());
  return projected;
}

ImageEmbeddings LlavaModel::EncodeImage(ThreadPool& pool, const Image& image) const {
  const Tensor pixels = ClipPixelValues(image, processor_.image);
  std::vector<float> class_attention;
  const Tensor hidden = vision_->Forward(pool, pixels, &class_attention);
  const int64_t skip = config_.keep_class_token ? 0 : 1;
  const int64_t rows = hidden.dim(0) - skip, width = hidden.dim(1);
  Tensor features(DType::kF32, {rows, width});
  std::memcpy(features.f32(), hidden.f32() + skip * width, rows * width * sizeof(float));
  ImageEmbeddings embeddings;
  embeddings.rows = Project(pool, features);
  if (!class_attention.empty()) {  // empty when no vision layer runs
    embeddings.vision_saliency.assign(class_attention.begin() + skip, class_attention.end());
  }
  // With the class token kept the run is not a grid; it is reported as one row of that length.
  const int64_t side = config_.vision.grid_size();
  embeddings.grids = {config_.keep_class_token ? ImageGrid{1, rows} : ImageGrid{side, side}};
  return embeddings;
}

ModelFamily LlavaFamily() {
  return {"llava",
          {"llava"},
          [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
            return std::make_unique<LlavaModel>(config, directory, options.weight_dtype);
          },
          [](const JsonFile& config) {
            const LlavaConfig c = ReadLlavaConfig(config);
            return StrCat("vision: CLIP, ", c.vision.num_layers, " layers (features of layer ",
                          c.vision_layers_used(), "), hidden ", c.vision.hidden_size, ", heads ",
                          c.vision.num_heads, ", ", c.vision.image_size, " px in ",
                          c.vision.patch_size, " px patches: ", c.vision.num_patches(),
                          " image tokens\n", "projector: 2-layer MLP (", c.projector_hidden_act,
                          "), image token id ", c.image_token_id, "\n", DescribeLlmConfig(c.text));
          }};
}

}  // namespace lightvlm
