#include "models/internvl.h"

#include <algorithm>

#include "base/error.h"
#include "io/safetensors.h"
#include "models/checkpoint_tokenizer.h"
#include "models/family_list.h"
#include "models/internlm2_tensor_source.h"
#include "models/internvl_vision_layout.h"

namespace lightvlm {
namespace {

constexpr const char* kContextToken = "<IMG_CONTEXT>";
constexpr const char* kImageStart = "<img>";
constexpr const char* kImageEnd = "</img>";
constexpr const char* kOpenGVLabPlaceholder = "<image>";  // what OpenGVLab's chat() writes

// Where the decoder lives, chosen by its embedding tensor. OpenGVLab's checkpoints and
// transformers' -hf ones (as 4.5x up to 4.51 and 5.x save them) share the first for Qwen2 and
// Llama LLMs; 4.52 to 4.57 save the second; OpenGVLab's InternLM2 LLMs (InternVL2.5-2B, 8B, 26B)
// keep InternLM2's own names, presented as the decoder's by a table
// (models/internlm2_tensor_source.h).
struct DecoderLayout {
  const char* embedding;  // the tensor whose presence selects the layout
  DecoderTensorNames names;
  bool internlm2_names = false;
};
const DecoderLayout kDecoderLayouts[] = {
    {"language_model.model.embed_tokens.weight",
     {"language_model.model.", "language_model.lm_head.weight"}},
    {"model.language_model.embed_tokens.weight", {"model.language_model.", "lm_head.weight"}},
    {"language_model.model.tok_embeddings.weight",
     {"language_model.model.", "language_model.output.weight"},
     true},
};

std::unique_ptr<Decoder> LoadDecoder(const LlmConfig& text, const Checkpoint& checkpoint,
                                     DType weight_dtype) {
  std::string expected;
  for (const DecoderLayout& layout : kDecoderLayouts) {
    if (!checkpoint.Contains(layout.embedding)) {
      expected += StrCat(expected.empty() ? "" : " or ", layout.embedding);
      continue;
    }
    if (!layout.internlm2_names) {
      return std::make_unique<Decoder>(text, checkpoint, layout.names, weight_dtype);
    }
    const InternLM2TensorSource presented(checkpoint, text, layout.names);
    return std::make_unique<Decoder>(text, presented, DecoderTensorNames{}, weight_dtype);
  }
  Fail(checkpoint.directory(), ": no InternVL decoder tensors (expected ", expected, ")");
}

// OpenGVLab's conversation templates (their conversation.py) by the name config.json's "template"
// gives: ChatML turns after a system message. The InternVL2.5 and InternVL3 checkpoints name
// internvl2_5.
struct Conversation {
  const char* name;
  const char* system_message;
};
const Conversation kConversations[] = {
    {"internvl2_5",
     "你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合开发的多"
     "模态大语言模型。"},
};

std::string ConversationSystemMessage(const JsonFile& config) {
  const std::string name = config.GetOr<std::string>("template", "internvl2_5");
  std::string known;
  for (const Conversation& conversation : kConversations) {
    if (name == conversation.name) return conversation.system_message;
    known += StrCat(known.empty() ? "" : ", ", conversation.name);
  }
  Fail(config.path(), ": template '", name, "' is not supported (supported: ", known, ")");
}

// OpenGVLab's preprocessing is their model card's load_image: ImageNet mean and std, bicubic
// tiles of force_image_size between min_dynamic_patch and max_dynamic_patch, a thumbnail.
InternVLImageProcessorConfig OpenGVLabImageProcessor(const JsonFile& config, int64_t tile_size) {
  InternVLImageProcessorConfig processor;
  processor.tile_height = processor.tile_width = static_cast<int>(tile_size);
  processor.min_tiles = config.GetOr<int32_t>("min_dynamic_patch", 1);
  processor.max_tiles = config.GetOr<int32_t>("max_dynamic_patch", 12);
  if (!config.GetOr<bool>("dynamic_image_size", true))
    processor.min_tiles = processor.max_tiles = 1;
  Check(processor.min_tiles >= 1 && processor.min_tiles <= processor.max_tiles, config.path(),
        ": min_dynamic_patch (", processor.min_tiles, ") and max_dynamic_patch (",
        processor.max_tiles, ") are not a range of tile counts");
  Check(config.GetOr<bool>("use_thumbnail", true), config.path(),
        ": use_thumbnail false is not supported (every InternVL2.5 checkpoint uses a thumbnail)");
  processor.scaling.image_mean = {0.485f, 0.456f, 0.406f};
  processor.scaling.image_std = {0.229f, 0.224f, 0.225f};
  return processor;
}

// OpenGVLab's config does not hold the context token's id (their chat() asks the tokenizer).
int32_t ContextTokenId(const Tokenizer& tokenizer, const std::string& directory) {
  const std::optional<int32_t> id = tokenizer.TokenId(kContextToken);
  Check(id.has_value(), directory, ": the tokenizer has no ", kContextToken, " token");
  return *id;
}

}  // namespace

InternVLModel::InternVLModel(const JsonFile& config, const std::string& directory,
                             const LoadOptions& options)
    : vision_config_(ReadInternVLVisionConfig(config)) {
  const bool opengvlab = vision_config_.format == InternVLConfigFormat::kOpenGVLab;
  const LlmConfig text = ReadLlmConfig(config, opengvlab ? "llm_config." : "text_config.");
  processor_ = opengvlab ? OpenGVLabImageProcessor(config, vision_config_.tile_size)
                         : LoadInternVLImageProcessorConfig(directory);
  if (options.max_tiles > 0) {
    processor_.max_tiles = options.max_tiles;
    processor_.min_tiles = std::min(processor_.min_tiles, options.max_tiles);
  }
  Check(processor_.tile_height == vision_config_.tile_size &&
            processor_.tile_width == vision_config_.tile_size,
        directory, ": the image processor's tiles are ", processor_.tile_width, "x",
        processor_.tile_height, " but the vision tower takes ", vision_config_.tile_size, "x",
        vision_config_.tile_size);
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  vision_ = std::make_unique<InternVLVisionEncoder>(vision_config_, checkpoint,
                                                    FindInternVLVisionLayout(checkpoint, directory),
                                                    options.weight_dtype);
  decoder_ = LoadDecoder(text, checkpoint, options.weight_dtype);
  if (opengvlab) {
    tokenizer_ = LoadCheckpointTokenizer(directory, text.vocab_size);
    image_token_id_ = ContextTokenId(*tokenizer_, directory);
    placeholder_ = kOpenGVLabPlaceholder;
    conversation_system_ = ConversationSystemMessage(config);
  } else {
    image_token_id_ = config.GetOr<int32_t>("image_token_id", 151667);
    placeholder_ = kContextToken;
    chat_ = ChatFormat::Find(directory);
    Check(chat_.has_value(), directory,
          ": no chat template (InternVL -hf checkpoints ship chat_template.jinja)");
  }
  Check(image_token_id_ >= 0 && image_token_id_ < text.vocab_size, directory, ": image token id ",
        image_token_id_, " is outside the vocabulary of ", text.vocab_size);
}

std::string InternVLModel::FormatConversation(std::span<const ChatMessage> messages) const {
  if (chat_) return chat_->Render(messages, ImagesInMessage::kContentParts);
  // OpenGVLab's conversation (MPT separators): the system message unless the conversation has
  // its own, each turn in ChatML, the assistant's turn opened.
  std::string prompt;
  if (messages.empty() || messages[0].role != "system") {
    prompt = StrCat("<|im_start|>system\n", conversation_system_, "<|im_end|>\n");
  }
  for (const ChatMessage& message : messages) {
    std::string images;
    for (int64_t i = 0; i < message.images; ++i) images += placeholder_ + "\n";
    prompt += StrCat("<|im_start|>", message.role, "\n", images, message.text, "<|im_end|>\n");
  }
  return prompt + "<|im_start|>assistant\n";
}

std::string InternVLModel::ExpandImagePlaceholders(const std::string& text,
                                                   std::span<const ImageEmbeddings>) const {
  const std::string expanded = StrCat(kImageStart, kContextToken, kImageEnd);
  std::string out;
  size_t from = 0;
  for (size_t at; (at = text.find(placeholder_, from)) != std::string::npos;) {
    out.append(text, from, at - from).append(expanded);
    from = at + placeholder_.size();
  }
  return out.append(text, from);
}

ImageEmbeddings InternVLModel::EncodeImage(ThreadPool& pool, const Image& image) const {
  const InternVLPixelValues pixels = InternVLPreprocess(image, processor_);
  ImageEmbeddings embeddings;
  embeddings.rows = vision_->Encode(pool, pixels, &embeddings.vision_saliency);
  const int64_t side = vision_config_.tile_size / vision_config_.vision.patch_size / 2;
  embeddings.grids.assign(pixels.tiles.size(), ImageGrid{side, side});
  embeddings.CheckGrids();
  return embeddings;
}

ModelFamily InternVLFamily() {
  return {
      "internvl",
      {"internvl", "internvl_chat"},
      [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
        return std::make_unique<InternVLModel>(config, directory, options);
      },
      [](const JsonFile& config) {
        const InternVLVisionConfig c = ReadInternVLVisionConfig(config);
        const bool opengvlab = c.format == InternVLConfigFormat::kOpenGVLab;
        return StrCat(
            "vision: InternViT, ", c.vision.num_layers, " layers (", c.vision.layers_used,
            " used), hidden ", c.vision.encoder.hidden_size, ", ", c.tile_size, " px tiles in ",
            c.vision.patch_size, " px patches: ", c.tokens_per_tile(),
            " image tokens a tile after pixel shuffle\n", "projector: LayerNorm + 2-layer MLP (",
            c.projector_act, ")\n",
            DescribeLlmConfig(ReadLlmConfig(config, opengvlab ? "llm_config." : "text_config.")));
      }};
}

}  // namespace lightvlm
