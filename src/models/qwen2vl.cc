#include "models/qwen2vl.h"

#include <filesystem>

#include "base/error.h"
#include "io/safetensors.h"
#include "models/family_list.h"

namespace lightvlm {
namespace {

// Where a checkpoint keeps its parts, told apart by the vision tower's patch embedding.
// Qwen2-VL and Qwen2.5-VL share both layouts. transformers 5.x loads the first by renaming it to
// the second in memory (its conversion mapping for Qwen2VLForConditionalGeneration) and writes the
// first again; only 4.52 to 4.57 wrote the second.
struct Qwen2VlTensorLayout {
  const char* name;
  const char* vision;  // the tower's prefix
  DecoderTensorNames decoder;
};
const Qwen2VlTensorLayout kLayouts[] = {
    {"Qwen's checkpoints, transformers up to 4.51 and 5.x (visual.*, model.*)",
     "visual.",
     {"model.", "lm_head.weight"}},
    {"transformers 4.52 to 4.57 (model.visual.*, model.language_model.*)",
     "model.visual.",
     {"model.language_model.", "lm_head.weight"}},
};

const Qwen2VlTensorLayout& FindLayout(const Checkpoint& checkpoint) {
  std::string expected;
  for (const Qwen2VlTensorLayout& layout : kLayouts) {
    const std::string marker = StrCat(layout.vision, "patch_embed.proj.weight");
    if (checkpoint.Contains(marker)) return layout;
    expected += StrCat("\n  ", layout.name, ": ", marker);
  }
  Fail(checkpoint.directory(), ": no Qwen2-VL vision tower found; expected one of", expected);
}

std::string DescribeVision(const Qwen2VlVisionConfig& c) {
  const VitEncoderConfig& e = c.encoder;
  std::string attention = "full attention";
  if (c.qwen25) {
    attention = StrCat("attention in ", c.window_size, " px windows (full in ",
                       c.fullatt_block_indexes.size(), " layers)");
  }
  return StrCat("vision: ", c.qwen25 ? "Qwen2.5-VL" : "Qwen2-VL", " ViT, ", c.depth,
                " layers, hidden ", e.hidden_size, ", MLP ", e.intermediate_size,
                c.qwen25 ? " (SwiGLU, RMSNorm)" : " (LayerNorm)", ", ", e.num_heads, " heads, ",
                attention, ", 2D rotary positions, ", c.patch_size, " px patches over ",
                c.temporal_patch_size, " frames\nprojector: patch merger (", c.spatial_merge_size,
                "x", c.spatial_merge_size, " patches a token, 2-layer GELU MLP to ",
                c.out_hidden_size, ")\n");
}

}  // namespace

LlmConfig ReadQwen2VlTextConfig(const JsonFile& config) {
  nlohmann::json merged = config.root();
  if (const nlohmann::json* text = config.Node("text_config"); text && text->is_object()) {
    merged.update(*text);
    // 5.x writes the model's token ids at the top level and its config class's defaults (Qwen's
    // real ids, outside a smaller vocabulary) in text_config.
    for (const char* key : {"eos_token_id", "bos_token_id", "tie_word_embeddings"}) {
      if (config.root().contains(key)) merged[key] = config.root()[key];
    }
  }
  merged["model_type"] = "qwen2";  // the text model's model_type is qwen2_vl(_text) or the like
  LlmConfig c = ReadLlmConfig(JsonFile::Parse(merged.dump(), config.path()));
  c.tie_word_embeddings = c.tie_word_embeddings || config.GetOr<bool>("tie_word_embeddings", false);
  Check(!c.rope_scaling.mrope_section.empty(), config.path(),
        ": no mrope_section in rope_scaling (or rope_parameters): Qwen2-VL's decoder needs one");
  return c;
}

Qwen2VlModel::Qwen2VlModel(const JsonFile& config, const std::string& directory,
                           const LoadOptions& options)
    : vision_config_(ReadQwen2VlVisionConfig(config)) {
  const LlmConfig text = ReadQwen2VlTextConfig(config);
  processor_ = LoadQwen2VlImageProcessorConfig(
      (std::filesystem::path(directory) / "preprocessor_config.json").string());
  if (options.min_pixels > 0) processor_.min_pixels = options.min_pixels;
  if (options.max_pixels > 0) processor_.max_pixels = options.max_pixels;
  Check(processor_.min_pixels <= processor_.max_pixels, directory, ": min_pixels ",
        processor_.min_pixels, " is above max_pixels ", processor_.max_pixels,
        " (from preprocessor_config.json, --min-pixels and --max-pixels)");
  const Qwen2VlVisionConfig& v = vision_config_;
  Check(processor_.patch_size == v.patch_size && processor_.merge_size == v.spatial_merge_size &&
            processor_.temporal_patch_size == v.temporal_patch_size,
        directory, ": the image processor's patch_size, merge_size and temporal_patch_size (",
        processor_.patch_size, ", ", processor_.merge_size, ", ", processor_.temporal_patch_size,
        ") differ from the vision tower's (", v.patch_size, ", ", v.spatial_merge_size, ", ",
        v.temporal_patch_size, ")");
  Check(v.out_hidden_size == text.hidden_size, config.path(), ": the patch merger gives ",
        v.out_hidden_size, " wide tokens but the decoder's hidden_size is ", text.hidden_size);
  const Checkpoint checkpoint = Checkpoint::Open(directory);
  const Qwen2VlTensorLayout& layout = FindLayout(checkpoint);
  vision_ =
      std::make_unique<Qwen2VlVisionTower>(v, checkpoint, layout.vision, options.weight_dtype);
  decoder_ = std::make_unique<Decoder>(text, checkpoint, layout.decoder, options.weight_dtype);
  tokens_.image = config.GetOr<int32_t>("image_token_id", 151655);
  tokens_.vision_start = config.GetOr<int32_t>("vision_start_token_id", 151652);
  for (const auto& [name, id] : {std::pair{"image_token_id", tokens_.image},
                                 std::pair{"vision_start_token_id", tokens_.vision_start}}) {
    Check(id >= 0 && id < text.vocab_size, config.path(), ": ", name, " ", id,
          " is outside the vocabulary of ", text.vocab_size);
  }
  chat_ = ChatFormat::Find(directory);
  Check(chat_.has_value(), directory,
        ": no chat template (Qwen2-VL checkpoints ship chat_template.json or .jinja)");
}

std::string Qwen2VlModel::FormatConversation(std::span<const ChatMessage> messages) const {
  return chat_->Render(messages, ImagesInMessage::kContentParts);
}

ImageEmbeddings Qwen2VlModel::EncodeImage(ThreadPool& pool, const Image& image) const {
  const Qwen2VlImagePatches patches = Qwen2VlPatchify(image, processor_);
  ImageEmbeddings embeddings;
  embeddings.rows = vision_->Forward(pool, patches.patches, patches.grid);
  const int64_t merge = vision_config_.spatial_merge_size;
  for (int64_t frame = 0; frame < patches.grid.t; ++frame) {
    embeddings.grids.push_back({patches.grid.h / merge, patches.grid.w / merge});
  }
  embeddings.CheckGrids();
  return embeddings;
}

std::vector<PositionId> Qwen2VlModel::PromptPositions(
    std::span<const int32_t> token_ids, std::span<const ImageEmbeddings> images) const {
  // Without images every token's three ids are its index: RoPE's one id a token (which --truncate
  // may cut).
  if (images.empty()) return {};
  const int64_t merge = vision_config_.spatial_merge_size;
  std::vector<ImageGridThw> grids;
  for (const ImageEmbeddings& image : images) {
    // An image is one frame's grid (the processor repeats a still image over the temporal patch).
    Check(image.grids.size() == 1, "Qwen2-VL image embeddings hold ", image.grids.size(),
          " grids, expected one");
    grids.push_back({1, image.grids[0].height * merge, image.grids[0].width * merge});
  }
  const MropePositions m =
      ComputeMropePositions(token_ids, tokens_, grids, static_cast<int>(merge));
  std::vector<PositionId> positions(token_ids.size());
  for (size_t i = 0; i < positions.size(); ++i) {
    positions[i] = {m.ids[0][i], m.ids[1][i], m.ids[2][i]};
  }
  return positions;
}

ModelFamily Qwen2VlFamily() {
  return {"qwen2_vl",
          {"qwen2_vl", "qwen2_5_vl"},
          [](const JsonFile& config, const std::string& directory, const LoadOptions& options) {
            return std::make_unique<Qwen2VlModel>(config, directory, options);
          },
          [](const JsonFile& config) {
            const LlmConfig text = ReadQwen2VlTextConfig(config);
            const auto& section = text.rope_scaling.mrope_section;
            return StrCat(DescribeVision(ReadQwen2VlVisionConfig(config)), DescribeLlmConfig(text),
                          "positions: M-RoPE, mrope_section ", section[0], ", ", section[1], ", ",
                          section[2], " (temporal, height, width)\n");
          }};
}

}  // namespace lightvlm
