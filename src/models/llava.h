// LLaVA (LlavaForConditionalGeneration, as llava-hf/llava-1.5-7b-hf ships it): a CLIP vision
// tower, features of one of its layers, a 2-layer MLP projector into the LLM's embedding space,
// and a Llama decoder that sees each image as a run of projected patch embeddings.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/json_file.h"
#include "models/clip_image_processor.h"
#include "models/clip_vision.h"
#include "models/language_model.h"
#include "models/llava_processor.h"

namespace lightvlm {

struct LlavaConfig {
  LlmConfig text;
  ClipVisionConfig vision;
  int32_t image_token_id = 32000;
  std::string projector_hidden_act = "gelu";
  bool projector_bias = true;
  int64_t vision_feature_layer = -2;  // index into the tower's hidden states (0: embeddings)
  bool keep_class_token = false;      // vision_feature_select_strategy "full" (else "default")

  // How many encoder layers produce the selected hidden state.
  int64_t vision_layers_used() const;
};

// Reads config.json of a LLaVA checkpoint. Fields absent from text_config and vision_config take
// transformers' LlamaConfig and CLIPVisionConfig defaults, as hub checkpoints rely on them.
LlavaConfig ReadLlavaConfig(const JsonFile& config);

class LlavaModel : public LanguageModel {
 public:
  LlavaModel(const JsonFile& config, const std::string& directory,
             DType weight_dtype = DType::kF32);

  const Decoder& decoder() const override { return *decoder_; }
  std::string family() const override { return "llava"; }
  // The checkpoint's chat template (LLaVA-1.5's), else LLaVA-1.5's format of a single question.
  std::string FormatConversation(std::span<const ChatMessage> messages) const override;
  int32_t image_token_id() const override { return config_.image_token_id; }
  ImageEmbeddings EncodeImage(ThreadPool& pool, const Image& image) const override;

  // The projector applied to vision features [rows, vision hidden] -> [rows, text hidden].
  Tensor Project(ThreadPool& pool, const Tensor& features) const;
  const ClipVisionTower& vision_tower() const { return *vision_; }
  const ClipImageProcessorConfig& image_processor() const { return processor_.image; }
  // Image tokens (and embedding rows) per image: one per patch, plus the class token with the
  // "full" strategy. A prompt the processor expanded has as many.
  int64_t image_features() const;

 private:
  // Fails when the processor would give a different count of image tokens than image_features().
  void CheckImageTokens() const;

  LlavaConfig config_;
  LlavaProcessorConfig processor_;
  std::unique_ptr<ClipVisionTower> vision_;
  Linear projector_in_;   // linear_1: [text hidden, vision hidden]
  Linear projector_out_;  // linear_2: [text hidden, text hidden]
  std::unique_ptr<Decoder> decoder_;
  std::optional<ChatFormat> chat_;
};

}  // namespace lightvlm
