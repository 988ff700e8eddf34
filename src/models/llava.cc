#include "models/llava.h"

#include <cstring>
#include <filesystem>

#include "base/error.h"

namespace lightvlm {
namespace {

// transformers' LlamaConfig defaults, for text_config fields a checkpoint leaves out.
const nlohmann::json kLlamaDefaults = {
    {"model_type", "llama"},   {"hidden_size", 4096},         {"intermediate_size", 11008},
    {"num_hidden_layers", 32}, {"num_attention_heads", 32},   {"max_position_embeddings", 2048},
    {"rms_norm_eps", 1e-6},    {"vocab_size", 32000},         {"rope_theta", 10000.0},
    {"hidden_act", "silu"},    {"tie_word_embeddings", false}};

// Where the parts live: older transformers saved "language_model.model.*", newer ones
// "model.language_model.*"; hub checkpoints come in both layouts.
struct LlavaTensorNames {
  DecoderTensorNames decoder;
  std::string vision;
  std::string projector;
};

LlavaTensorNames FindTensorNames(const Checkpoint& checkpoint) {
  if (checkpoint.Contains("language_model.model.embed_tokens.weight")) {
    return {{"language_model.model.", "language_model.lm_head.weight"},
            "vision_tower.vision_model.",
            "multi_modal_projector."};
  }
  if (checkpoint.Contains("model.language_model.embed_tokens.weight")) {
    return {{"model.language_model.", "lm_head.weight"},
            "model.vision_tower.vision_model.",
            "model.multi_modal_projector."};
  }
  Fail(checkpoint.directory(),
       ": not a LLaVA checkpoint: neither "
       "'language_model.model.embed_tokens.weight' nor 'model.language_model.embed_tokens.weight'"
       " is present");
}

// The chat template of the checkpoint, or "" when it ships none (then LLaVA-1.5's format,
// "USER: <image>\n{question} ASSISTANT:", is used).
std::string ReadChatTemplate(const std::string& directory) {
  namespace fs = std::filesystem;
  for (const char* file : {"chat_template.json", "tokenizer_config.json"}) {
    const fs::path path = fs::path(directory) / file;
    if (!fs::exists(path)) continue;
    const auto chat_template = JsonFile::Load(path.string()).Find<std::string>("chat_template");
    if (chat_template) return *chat_template;
  }
  return "";
}

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
    : config_(ReadLlavaConfig(config)),
      processor_(LoadClipImageProcessorConfig(
          (std::filesystem::path(directory) / "preprocessor_config.json").string())) {
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  const LlavaTensorNames names = FindTensorNames(checkpoint);
  vision_ = std::make_unique<ClipVisionTower>(config_.vision, checkpoint, names.vision,
                                              config_.vision_layers_used(), weight_dtype);
  const int64_t vision_hidden = config_.vision.hidden_size, text_hidden = config_.text.hidden_size;
  projector_in_ = LoadLinear(checkpoint, names.projector + "linear_1", text_hidden, vision_hidden,
                             config_.projector_bias, weight_dtype);
  projector_out_ = LoadLinear(checkpoint, names.projector + "linear_2", text_hidden, text_hidden,
                              config_.projector_bias, weight_dtype);
  decoder_ = std::make_unique<Decoder>(config_.text, checkpoint, names.decoder, weight_dtype);
  Check(!processor_.do_center_crop || (processor_.crop_height == config_.vision.image_size &&
                                       processor_.crop_width == config_.vision.image_size),
        directory, "/preprocessor_config.json: crop_size ", processor_.crop_height, "x",
        processor_.crop_width, " differs from the vision tower's image_size ",
        config_.vision.image_size);
  const std::string chat_template = ReadChatTemplate(directory);
  // Vicuna-style templates (LLaVA-1.5) end the prompt with "ASSISTANT:"; others ([INST], ChatML)
  // are refused rather than guessed.
  Check(chat_template.empty() || chat_template.find("ASSISTANT:") != std::string::npos, directory,
        ": the chat template is not LLaVA-1.5's (\"USER: <image>\\n... ASSISTANT:\"); other LLaVA "
        "chat formats are not supported yet");
}

std::string LlavaModel::FormatPrompt(const std::string& question, int64_t num_images) const {
  std::string prompt = "USER: ";
  for (int64_t i = 0; i < num_images; ++i) prompt += "<image>\n";
  return prompt + question + " ASSISTANT:";
}

Tensor LlavaModel::Project(ThreadPool& pool, const Tensor& features) const {
  const int64_t rows = features.dim(0);
  Tensor hidden(DType::kF32, {rows, config_.text.hidden_size});
  projector_in_.Forward(pool, features.f32(), rows, hidden.f32());
  ApplyActivation(config_.projector_hidden_act, hidden.f32(), hidden.num_elements());
  Tensor projected(DType::kF32, {rows, config_.text.hidden_size});
  projector_out_.Forward(pool, hidden.f32(), rows, projected.f32());
  return projected;
}

ImageEmbeddings LlavaModel::EncodeImage(ThreadPool& pool, const Image& image) const {
  const Tensor pixels = ClipPixelValues(image, processor_);
  const Tensor hidden = vision_->Forward(pool, pixels);
  const int64_t skip = config_.keep_class_token ? 0 : 1;
  const int64_t rows = hidden.dim(0) - skip, width = hidden.dim(1);
  Tensor features(DType::kF32, {rows, width});
  std::memcpy(features.f32(), hidden.f32() + skip * width, rows * width * sizeof(float));
  ImageEmbeddings embeddings;
  embeddings.rows = Project(pool, features);
  // With the class token kept the run is not a grid; it is reported as one row of that length.
  embeddings.grid_height = config_.keep_class_token ? 1 : config_.vision.grid_size();
  embeddings.grid_width = config_.keep_class_token ? rows : config_.vision.grid_size();
  return embeddings;
}

}  // namespace lightvlm
