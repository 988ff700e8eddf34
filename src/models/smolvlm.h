// SmolVLM (SmolVLMForConditionalGeneration, model_type smolvlm: SmolVLM-256M/500M-Instruct,
// SmolVLM2) and its predecessor Idefics3 (Idefics3ForConditionalGeneration, model_type idefics3:
// SmolVLM v1, Idefics3-8B): the image split into sub-images plus a global image
// (models/smolvlm_image_processor.h), each through a SigLIP tower (models/siglip_vision.h), pixel
// shuffle by scale_factor and one linear (the connector's modality_projection.proj), into a
// Llama decoder.
//
// The processor writes an image as a block of text: per row of sub-images
// "<fake_token_around_image><row_r_col_c>" + "<image>" * image_seq_len for each, then "\n"; then
// "\n<fake_token_around_image><global-img>" + "<image>" * image_seq_len +
// "<fake_token_around_image>" (an unsplit image: that last part alone). The family writes that
// block into the prompt (ExpandImagePlaceholders); the engine places each sub-image's rows at its
// run of image tokens (one grid each), and the markers between them stay text tokens, as the
// processor's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "io/json_file.h"
#include "models/chat_format.h"
#include "models/language_model.h"
#include "models/linear.h"
#include "models/siglip_vision.h"
#include "models/smolvlm_image_processor.h"

namespace lightvlm {

// What config.json says beside the decoder's text_config.
struct SmolVLMConfig {
  SiglipVisionConfig vision;
  int64_t scale_factor = 2;
  int32_t image_token_id = 128257;
};

// Reads and validates the fields; errors name the file and the field.
SmolVLMConfig ReadSmolVLMConfig(const JsonFile& config);

// The processor's text for one image split into `grid`, `image_seq_len` image tokens a sub-image.
std::string SmolVLMImagePrompt(const SubImageGrid& grid, int64_t image_seq_len);

class SmolVLMModel : public LanguageModel {
 public:
  SmolVLMModel(const JsonFile& config, const std::string& directory, const LoadOptions& options);

  const Decoder& decoder() const override { return *decoder_; }
  std::string family() const override { return "smolvlm"; }
  // The checkpoint's chat template, images as content parts ("<image>").
  std::string FormatConversation(std::span<const ChatMessage> messages) const override;
  int32_t image_token_id() const override { return config_.image_token_id; }
  // The sub-images and the global image through the tower, the pixel shuffle and the projection:
  // one grid each, and the processor's text for the image's block (SmolVLMImagePrompt) as its
  // prompt text.
  ImageEmbeddings EncodeImage(ThreadPool& pool, const Image& image) const override;
  // Each "<image>" of the chat format becomes its image's block.
  std::string ExpandImagePlaceholders(const std::string& text,
                                      std::span<const ImageEmbeddings> images) const override;

  const SmolVLMImageProcessorConfig& image_processor() const { return processor_; }
  const SiglipVisionTower& vision() const { return *vision_; }
  int64_t image_seq_len() const { return image_seq_len_; }
  // The sub-images' image features [sub-images * image_seq_len, text hidden], in order. With
  // `saliency`, also each feature row's share of its sub-image's attention received in the
  // tower's last layer, summed over the patches the pixel shuffle merged into it.
  Tensor ImageFeatures(ThreadPool& pool, const SmolVLMPixelValues& pixels,
                       std::vector<float>* saliency = nullptr) const;

 private:
  SmolVLMConfig config_;
  SmolVLMImageProcessorConfig processor_;
  int64_t image_seq_len_ = 0;  // image tokens a sub-image
  std::unique_ptr<SiglipVisionTower> vision_;
  Linear projection_;  // [text hidden, vision hidden * scale^2], no bias
  std::unique_ptr<Decoder> decoder_;
  std::optional<ChatFormat> chat_;
};

}  // namespace lightvlm
