// InternVL2.5 / InternVL3, the LightVLM paper's own family: InternViT over 448-pixel tiles (the
// closest aspect-ratio grid, plus a thumbnail), pixel shuffle, an MLP projector and a Qwen2 (or
// InternLM2) decoder. Loads OpenGVLab's checkpoints (InternVLChatModel, model_type internvl_chat)
// and transformers' (InternVLForConditionalGeneration, model_type internvl, the -hf ones).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/json_file.h"
#include "models/chat_format.h"
#include "models/internvl_image_processor.h"
#include "models/internvl_vision.h"
#include "models/language_model.h"

namespace lightvlm {

class InternVLModel : public LanguageModel {
 public:
  InternVLModel(const JsonFile& config, const std::string& directory, const LoadOptions& options);

  const Decoder& decoder() const override { return *decoder_; }
  std::string family() const override { return "internvl"; }
  // The checkpoint's chat template (-hf checkpoints), else the conversation template config.json
  // names (OpenGVLab's, as their chat() builds the prompt: internvl2_5 with its system message).
  std::string FormatConversation(std::span<const ChatMessage> messages) const override;
  // Each "<IMG_CONTEXT>" (-hf) or "<image>" (OpenGVLab) becomes "<img><IMG_CONTEXT></img>"; the
  // one context token then stands for all of the image's tiles' tokens.
  std::string ExpandImagePlaceholders(const std::string& text,
                                      std::span<const ImageEmbeddings> images) const override;
  int32_t image_token_id() const override { return image_token_id_; }
  // The image's tiles (and thumbnail) through InternViT, pixel shuffle and the projector: one
  // grid of (side / 2) x (side / 2) tokens a tile.
  ImageEmbeddings EncodeImage(ThreadPool& pool, const Image& image) const override;

  const InternVLImageProcessorConfig& image_processor() const { return processor_; }
  const InternVLVisionEncoder& vision() const { return *vision_; }

 private:
  InternVLVisionConfig vision_config_;
  InternVLImageProcessorConfig processor_;
  std::unique_ptr<InternVLVisionEncoder> vision_;
  std::unique_ptr<Decoder> decoder_;
  int32_t image_token_id_ = -1;
  std::string placeholder_;          // what the chat format writes for an image
  std::optional<ChatFormat> chat_;   // -hf: the checkpoint's template
  std::string conversation_system_;  // OpenGVLab: the named template's system message
};

}  // namespace lightvlm
