#include "models/smolvlm.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>

#include "base/error.h"
#include "io/safetensors.h"
#include "models/checkpoint_tokenizer.h"
#include "models/family_list.h"
#include "models/pixel_shuffle.h"

namespace lightvlm {
namespace {

constexpr const char* kFakeToken = "<fake_token_around_image>";
constexpr const char* kImageToken = "<image>";
constexpr const char* kGlobalImageToken = "<global-img>";

// Where a checkpoint keeps its parts. transformers has written one set of names for both classes
// (Idefics3 from 4.46, SmolVLM from 4.50, up to 5.25's default save_pretrained: neither class
// has a conversion mapping); a checkpoint's layout is the one whose vision tensors it holds.
struct SmolVLMTensorLayout {
  const char* name;
  DecoderTensorNames decoder;
  const char* vision;      // the SigLIP tower: embeddings., encoder.layers., post_layernorm.
  const char* projection;  // the connector's linear, [text hidden, vision hidden * scale^2]
};
const SmolVLMTensorLayout kLayouts[] = {
    {"transformers 4.46 to 5.25 (model.vision_model.*, model.connector.*, model.text_model.*)",
     {"model.text_model.", "lm_head.weight"},
     "model.vision_model.",
     "model.connector.modality_projection.proj.weight"},
};

const SmolVLMTensorLayout& FindLayout(const Checkpoint& checkpoint) {
  std::string expected;
  for (const SmolVLMTensorLayout& layout : kLayouts) {
    const std::string marker = StrCat(layout.vision, "embeddings.patch_embedding.weight");
    if (checkpoint.Contains(marker)) return layout;
    expected += StrCat("\n  ", layout.name, ": ", marker);
  }
  Fail(checkpoint.directory(), ": no SmolVLM / Idefics3 vision tower found; expected one of",
       expected);
}

// text_config with the defaults its config classes give what a checkpoint leaves out (a Llama,
// RMSNorm eps 1e-5), and tied embeddings when the top level says so (where transformers 5.x
// reads it).
LlmConfig ReadTextConfig(const JsonFile& config) {
  nlohmann::json merged = config.root();
  nlohmann::json text = {{"model_type", "llama"}, {"rms_norm_eps", 1e-5}};
  if (const nlohmann::json* given = config.Node("text_config"); given && given->is_object()) {
    text.update(*given);
  }
  merged["text_config"] = text;
  LlmConfig c = ReadLlmConfig(JsonFile::Parse(merged.dump(), config.path()), "text_config.");
  c.tie_word_embeddings = c.tie_word_embeddings || config.GetOr<bool>("tie_word_embeddings", false);
  return c;
}

// Image tokens a sub-image of `side` pixels gives: its patch grid after the pixel shuffle.
int64_t TokensPerSubImage(const SmolVLMConfig& c, int64_t side, const std::string& where) {
  const int64_t patches = side / c.vision.patch_size;
  Check(patches > 0 && patches % c.scale_factor == 0, where, ": sub-images of ", side, " px give ",
        patches, " patches a side, which scale_factor ", c.scale_factor, " does not divide");
  return (patches / c.scale_factor) * (patches / c.scale_factor);
}

// The processor's image_seq_len (processor_config.json, where every transformers version writes
// it) must be what the model makes of a sub-image, as transformers refuses a prompt otherwise.
void CheckImageSeqLen(const std::string& directory, int64_t tokens) {
  const std::filesystem::path path = std::filesystem::path(directory) / "processor_config.json";
  if (!std::filesystem::exists(path)) return;
  const JsonFile file = JsonFile::Load(path.string());
  const auto given = file.Find<int64_t>("image_seq_len");
  Check(!given || *given == tokens, file.path(), ": image_seq_len is ", given.value_or(0),
        " but a sub-image gives ", tokens, " image tokens");
}

}  // namespace

SmolVLMConfig ReadSmolVLMConfig(const JsonFile& config) {
  SmolVLMConfig c;
  c.vision = ReadSiglipVisionConfig(config, "vision_config.");
  c.scale_factor = config.GetOr<int64_t>("scale_factor", c.scale_factor);
  Check(c.scale_factor > 0, config.path(), ": scale_factor must be positive, got ", c.scale_factor);
  c.image_token_id = config.GetOr<int32_t>("image_token_id", c.image_token_id);
  return c;
}

std::string SmolVLMImagePrompt(const SubImageGrid& grid, int64_t image_seq_len) {
  std::string image_tokens;
  for (int64_t i = 0; i < image_seq_len; ++i) image_tokens += kImageToken;
  std::string text;
  for (int row = 1; row <= grid.rows; ++row) {
    for (int column = 1; column <= grid.columns; ++column) {
      text += StrCat(kFakeToken, "<row_", row, "_col_", column, ">", image_tokens);
    }
    text += "\n";
  }
  if (grid.rows > 0) text += "\n";
  return text + StrCat(kFakeToken, kGlobalImageToken, image_tokens, kFakeToken);
}

SmolVLMModel::SmolVLMModel(const JsonFile& config, const std::string& directory,
                           const LoadOptions& options)
    : config_(ReadSmolVLMConfig(config)), processor_(LoadSmolVLMImageProcessorConfig(directory)) {
  const LlmConfig text = ReadTextConfig(config);
  image_seq_len_ = TokensPerSubImage(config_, processor_.sub_image, directory);
  CheckImageSeqLen(directory, image_seq_len_);
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  const SmolVLMTensorLayout& layout = FindLayout(checkpoint);
  vision_ = std::make_unique<SiglipVisionTower>(config_.vision, checkpoint, layout.vision,
                                                options.weight_dtype);
  const int64_t s = config_.scale_factor;
  projection_ = LoadLinearWeight(checkpoint, layout.projection, text.hidden_size,
                                 config_.vision.encoder.hidden_size * s * s, options.weight_dtype);
  decoder_ = std::make_unique<Decoder>(text, checkpoint, layout.decoder, options.weight_dtype);
  tokenizer_ = LoadCheckpointTokenizer(directory, text.vocab_size);
  const std::optional<int32_t> image_id = tokenizer_->TokenId(kImageToken);
  Check(image_id == config_.image_token_id, directory, ": the tokenizer's ", kImageToken, " is ",
        image_id.value_or(-1), " but config.json's image_token_id is ", config_.image_token_id);
  Check(config_.image_token_id >= 0 && config_.image_token_id < text.vocab_size, directory,
        ": image token id ", config_.image_token_id, " is outside the vocabulary of ",
        text.vocab_size);
  chat_ = ChatFormat::Find(directory);
  Check(chat_.has_value(), directory,
        ": no chat template (SmolVLM and Idefics3 checkpoints ship one)");
}

std::string SmolVLMModel::FormatConversation(std::span<const ChatMessage> messages) const {
  return chat_->Render(messages, ImagesInMessage::kContentParts);
}

Tensor SmolVLMModel::ImageFeatures(ThreadPool& pool, const SmolVLMPixelValues& pixels,
                                   std::vector<float>* saliency) const {
  Check(!pixels.sub_images.empty(), "SmolVLM vision encoder: the image has no sub-images");
  const auto count = static_cast<int64_t>(pixels.sub_images.size());
  const int64_t d = config_.vision.encoder.hidden_size;
  Tensor patches;  // [sub-images, patches, vision hidden]
  std::vector<float> patch_saliency, sub_image_saliency;
  for (int64_t i = 0; i < count; ++i) {
    const Tensor hidden = vision_->Forward(pool, pixels.sub_images[i],
                                           saliency != nullptr ? &sub_image_saliency : nullptr);
    patch_saliency.insert(patch_saliency.end(), sub_image_saliency.begin(),
                          sub_image_saliency.end());
    if (i == 0) patches = Tensor(DType::kF32, {count, hidden.dim(0), d});
    Check(hidden.dim(0) == patches.dim(1), "SmolVLM vision encoder: sub-image ", i, " gives ",
          hidden.dim(0), " patches, sub-image 0 ", patches.dim(1));
    std::memcpy(patches.f32() + i * hidden.num_elements(), hidden.f32(), hidden.num_bytes());
  }
  // Empty when the tower runs no layer.
  if (saliency != nullptr && !patch_saliency.empty()) {
    *saliency = ShuffledSaliency(patch_saliency, count, config_.scale_factor);
  }
  Tensor shuffled = PixelShuffle(patches, config_.scale_factor);
  shuffled.Reshape({shuffled.dim(0) * shuffled.dim(1), shuffled.dim(2)});
  Tensor features(DType::kF32, {shuffled.dim(0), projection_.out_features()});
  projection_.Forward(pool, shuffled.f32(), shuffled.dim(0), features.f32());
  return features;
}

ImageEmbeddings SmolVLMModel::EncodeImage(ThreadPool& pool, const Image& image) const {
  const SmolVLMPixelValues pixels = SmolVLMPreprocess(image, processor_);
  ImageEmbeddings embeddings;
  embeddings.rows = ImageFeatures(pool, pixels, &embeddings.vision_saliency);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(double(image_seq_len_))));
  embeddings.grids.assign(pixels.sub_images.size(), ImageGrid{side, side});
  embeddings.prompt_text = SmolVLMImagePrompt(pixels.grid, image_seq_len_);
  embeddings.CheckGrids();
  return embeddings;
}

std::string SmolVLMModel::ExpandImagePlaceholders(const std::string& text,
                                                  std::span<const ImageEmbeddings> images) const {
  // One "<image>" per image, as the chat template writes them; a prompt already expanded as the
  // processor expands it (more of them) is left as it is.
  std::vector<size_t> at;
  for (size_t from = 0; (from = text.find(kImageToken, from)) != std::string::npos;) {
    at.push_back(from);
    from += std::string_view(kImageToken).size();
  }
  if (at.size() != images.size()) return text;
  std::string out;
  size_t from = 0;
  for (size_t i = 0; i < at.size(); ++i) {
    out.append(text, from, at[i] - from).append(images[i].prompt_text);
    from = at[i] + std::string_view(kImageToken).size();
  }
  return out.append(text, from);
}

ModelFamily SmolVLMFamily() {
  return {"smolvlm",
          {"smolvlm", "idefics3"},
          [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
            return std::make_unique<SmolVLMModel>(config, directory, options);
          },
          [](const JsonFile& config) {
            const SmolVLMConfig c = ReadSmolVLMConfig(config);
            const int64_t patches = c.vision.position_side();
            return StrCat("vision: SigLIP, ", c.vision.num_layers, " layers, hidden ",
                          c.vision.encoder.hidden_size, ", ", c.vision.image_size,
                          " px sub-images in ", c.vision.patch_size,
                          " px patches: ", (patches / c.scale_factor) * (patches / c.scale_factor),
                          " image tokens a sub-image after pixel shuffle (scale ", c.scale_factor,
                          ")\nprojector: one linear (modality_projection)\n",
                          DescribeLlmConfig(ReadTextConfig(config)));
          }};
}

}  // namespace lightvlm
