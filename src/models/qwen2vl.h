// Qwen2-VL and Qwen2.5-VL (Qwen2VLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration):
// images at any aspect ratio smart-resized to multiples of 28 pixels within min_pixels..max_pixels
// (models/qwen2vl_image_processor.h), the vision tower with its patch merger
// (models/qwen2vl_vision.h), and a Qwen2 decoder with M-RoPE: every prompt token gets three
// rotary ids (temporal, height, width) as get_rope_index gives them (models/mrope_positions.h).
// Loads the layout of Qwen's checkpoints and of transformers up to 4.51 and 5.x (visual.*,
// model.*), and that of transformers 4.52 to 4.57 (model.visual.*, model.language_model.*); the
// config as 4.x writes it (the decoder's fields at the top level) or 5.x (text_config).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/json_file.h"
#include "models/chat_format.h"
#include "models/language_model.h"
#include "models/mrope_positions.h"
#include "models/qwen2vl_image_processor.h"
#include "models/qwen2vl_vision.h"

namespace lightvlm {

// The decoder's fields of a Qwen2-VL config.json: at the top level (transformers 4.x) or in
// text_config (5.x), read as a Qwen2's, with mrope_section from rope_scaling or rope_parameters.
LlmConfig ReadQwen2VlTextConfig(const JsonFile& config);

class Qwen2VlModel : public LanguageModel {
 public:
  Qwen2VlModel(const JsonFile& config, const std::string& directory, const LoadOptions& options);

  const Decoder& decoder() const override { return *decoder_; }
  std::string family() const override { return vision_config_.qwen25 ? "qwen2_5_vl" : "qwen2_vl"; }
  // The checkpoint's chat template: "<|vision_start|><|image_pad|><|vision_end|>" per image.
  std::string FormatConversation(std::span<const ChatMessage> messages) const override;
  bool formats_special_tokens() const override { return true; }
  int32_t image_token_id() const override { return tokens_.image; }
  // Smart resize, patches, the vision tower: one grid of (h / 2) x (w / 2) tokens.
  ImageEmbeddings EncodeImage(ThreadPool& pool, const Image& image) const override;
  // get_rope_index's three ids of every token, the images' grids from their embeddings; none
  // (one id a token) for a prompt without images, where the three are equal.
  std::vector<PositionId> PromptPositions(std::span<const int32_t> token_ids,
                                          std::span<const ImageEmbeddings> images) const override;

  const Qwen2VlImageProcessorConfig& image_processor() const { return processor_; }
  const Qwen2VlVisionTower& vision() const { return *vision_; }

 private:
  Qwen2VlVisionConfig vision_config_;
  Qwen2VlImageProcessorConfig processor_;
  std::unique_ptr<Qwen2VlVisionTower> vision_;
  std::unique_ptr<Decoder> decoder_;
  MropeTokenIds tokens_;
  std::optional<ChatFormat> chat_;
};

}  // namespace lightvlm
