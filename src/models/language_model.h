// What the engine sees of any model family: the LLM decoder, the chat format a plain question is
// wrapped in, and, for vision-language models, a way to turn an image into a run of embeddings
// with a grid shape. Everything that differs between families stays behind this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/tensor.h"
#include "base/thread_pool.h"
#include "io/gguf_file.h"
#include "io/image.h"
#include "io/json_file.h"
#include "io/tokenizer.h"
#include "models/chat_format.h"
#include "models/decoder.h"
#include "models/image_embeddings.h"
#include "models/position_id.h"

namespace lightvlm {

// How to load a checkpoint: what the user may choose beside the checkpoint's own settings.
struct LoadOptions {
  DType weight_dtype = DType::kF32;  // matrices held as F32, BF16, I8 or Q4, converted at load
  int max_tiles = 0;  // the most tiles an image is cut into (InternVL); 0: the checkpoint's
  // Qwen2-VL: the pixel count an image is smart-resized within; 0: preprocessor_config.json's.
  int64_t min_pixels = 0;
  int64_t max_pixels = 0;

  bool operator==(const LoadOptions&) const = default;
};

class LanguageModel {
 public:
  virtual ~LanguageModel() = default;

  virtual const Decoder& decoder() const = 0;
  virtual std::string family() const = 0;  // "llama", "qwen2", "llava", ...

  // The prompt text of a conversation, in the chat format the model was trained with (the image
  // placeholders included), the assistant's turn opened at the end. Fails naming the family when
  // its format cannot hold the conversation (several turns without a chat template).
  virtual std::string FormatConversation(std::span<const ChatMessage> messages) const = 0;
  // The conversation of one user question about `num_images` images.
  std::string FormatPrompt(const std::string& question, int64_t num_images) const;

  // Whether FormatPrompt's text holds its special tokens already (a Jinja chat template writes
  // them, and transformers' apply_chat_template tokenizes it without adding BOS or EOS); false
  // when the tokenizer is to add them, as to a raw prompt.
  virtual bool formats_special_tokens() const { return false; }
  // The prompt text as the tokenizer gets it: each image placeholder of the chat format (or of a
  // raw prompt) replaced as the family's processor replaces it, `images` in order (InternVL's
  // "<IMG_CONTEXT>" by "<img><IMG_CONTEXT></img>", SmolVLM's "<image>" by the image's
  // prompt_text). A single image token left stands for all of its image's rows.
  virtual std::string ExpandImagePlaceholders(const std::string& text,
                                              std::span<const ImageEmbeddings> images) const;
  // The token id that stands for an image in a prompt, or -1 when the model takes no images.
  virtual int32_t image_token_id() const { return -1; }
  // Preprocesses `image` and runs the vision encoder and projector. Fails for text models.
  virtual ImageEmbeddings EncodeImage(ThreadPool& pool, const Image& image) const;
  // The rotary positions of a prompt's tokens (images expanded: a run of image_token_id per image
  // row), counted from the prompt's start; empty means one id per token, 0, 1, 2, ... (RoPE).
  // Families with other position rules (M-RoPE) override it.
  virtual std::vector<PositionId> PromptPositions(std::span<const int32_t> token_ids,
                                                  std::span<const ImageEmbeddings> images) const;

  // The checkpoint's tokenizer when the family read it at load (to find its image token), for the
  // caller to take over so that it is read once; null when the family read none, or taken.
  std::unique_ptr<Tokenizer> TakeTokenizer() { return std::move(tokenizer_); }

 protected:
  std::unique_ptr<Tokenizer> tokenizer_;  // models/checkpoint_tokenizer.h's
};

// One line describing the decoder `config`, for `lightvlm inspect`.
std::string DescribeLlmConfig(const LlmConfig& config);

// One line per part of the model config.json describes (vision tower, projector, decoder), as its
// family tells it, for `lightvlm inspect`; reads no weights.
std::string DescribeModelConfig(const JsonFile& config);

// Builds the family that config.json's model_type names (models/model_family.h) from a checkpoint
// directory. Errors name the file and the problem.
std::unique_ptr<LanguageModel> LoadLanguageModel(const std::string& directory,
                                                 const LoadOptions& options = {});

// The text model a GGUF file of architecture llama or qwen2 holds (gguf_llm_config.h,
// gguf_tensor_source.h), its weights converted to `weight_dtype` at load. Errors name the file
// and the key or tensor.
std::unique_ptr<LanguageModel> LoadGgufLanguageModel(const GgufFile& file,
                                                     DType weight_dtype = DType::kF32);

}  // namespace lightvlm
