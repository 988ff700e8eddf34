#include "models/internvl_vision_config.h"

#include <optional>

#include "base/error.h"

namespace lightvlm {
namespace {

constexpr const char* kVision = "vision_config.";

int64_t CheckedPositive(const JsonFile& config, const std::string& field, int64_t value) {
  Check(value > 0, config.path(), ": ", field, " must be positive, got ", value);
  return value;
}

int64_t ReadPositive(const JsonFile& config, const std::string& field, int64_t fallback) {
  return CheckedPositive(config, field, config.GetOr<int64_t>(field, fallback));
}

// The LLM's width, which the projector's output must have; its config class's default is no
// InternVL's.
int64_t ReadTextHidden(const JsonFile& config, const std::string& field) {
  return CheckedPositive(config, field, config.Get<int64_t>(field));
}

// InternVLVisionConfig writes image_size and patch_size as [height, width] (or one number);
// InternVisionConfig as one number. InternVL's tiles are square, and so must these be.
int64_t ReadSquareSize(const JsonFile& config, const std::string& field, int64_t fallback) {
  const nlohmann::json* node = config.Node(field);
  if (!node || node->is_null()) return fallback;
  if (node->is_array()) {
    const auto sides = config.Get<std::vector<int64_t>>(field);
    Check(sides.size() == 2, config.path(), ": ", field, " must be [height, width], got ",
          node->dump());
    Check(sides[0] == sides[1], config.path(), ": ", field, " ", node->dump(),
          " is not square, which InternVL does not support");
    Check(sides[0] > 0, config.path(), ": ", field, " must be positive, got ", node->dump());
    return sides[0];
  }
  return ReadPositive(config, field, fallback);
}

VitNormType ReadNormType(const JsonFile& config, const std::string& fallback) {
  const std::string field = std::string(kVision) + "norm_type";
  const auto name = config.GetOr<std::string>(field, fallback);
  if (name == "layer_norm") return VitNormType::kLayerNorm;
  if (name == "rms_norm") return VitNormType::kRmsNorm;
  Fail(config.path(), ": ", field, " '", name, "' is not supported (layer_norm, rms_norm)");
}

// The defaults of one format's vision config class, and its names for the fields that differ.
struct VisionFieldDefaults {
  int64_t hidden_size, num_layers, num_heads, intermediate_size, image_size;
  const char* norm_type;
  bool qk_norm;
  const char* qk_norm_field;
  const char* attention_bias_field;
};

InternViTConfig ReadInternViT(const JsonFile& config, const VisionFieldDefaults& defaults) {
  const std::string v = kVision;
  InternViTConfig c;
  VitEncoderConfig& e = c.encoder;
  e.hidden_size = ReadPositive(config, v + "hidden_size", defaults.hidden_size);
  e.intermediate_size = ReadPositive(config, v + "intermediate_size", defaults.intermediate_size);
  e.num_heads = ReadPositive(config, v + "num_attention_heads", defaults.num_heads);
  e.hidden_act = config.GetOr<std::string>(v + "hidden_act", "gelu");
  e.norm_type = ReadNormType(config, defaults.norm_type);
  e.norm_eps = config.GetOr<double>(v + "layer_norm_eps", 1e-6);
  e.attention_bias = config.GetOr<bool>(v + defaults.attention_bias_field, false);
  e.qk_norm = config.GetOr<bool>(v + defaults.qk_norm_field, defaults.qk_norm);
  e.layer_scale = true;  // both implementations always have ls1/ls2 (lambda_1/lambda_2)
  CheckVitEncoderConfig(e, config.path() + ": " + v);
  c.num_layers = ReadPositive(config, v + "num_hidden_layers", defaults.num_layers);
  c.num_channels = ReadPositive(config, v + "num_channels", 3);
  c.image_size = ReadSquareSize(config, v + "image_size", defaults.image_size);
  c.patch_size = ReadSquareSize(config, v + "patch_size", 14);
  Check(c.image_size % c.patch_size == 0, config.path(), ": ", v, "patch_size (", c.patch_size,
        ") does not divide ", v, "image_size (", c.image_size, ")");
  return c;
}

// hidden_states[k] of both implementations: the embeddings first, then each layer's output.
int64_t LayersUsed(const JsonFile& config, const std::string& field, int64_t num_layers) {
  const nlohmann::json* node = config.Node(field);
  Check(!node || node->is_null() || node->is_number_integer(), config.path(), ": ", field, " ",
        node ? node->dump() : "", " is not supported: only one layer (an integer)");
  const auto layer = config.GetOr<int64_t>(field, -1);
  const int64_t used = layer < 0 ? num_layers + 1 + layer : layer;
  Check(used >= 0 && used <= num_layers, config.path(), ": ", field, " (", layer,
        ") is outside the ", num_layers, " vision layers");
  return used;
}

void CheckDownsampleRatio(const JsonFile& config) {
  const auto ratio = config.GetOr<double>("downsample_ratio", 0.5);
  Check(ratio == 0.5, config.path(), ": downsample_ratio ", ratio,
        " is not supported (InternVL's pixel shuffle here merges 2x2 tokens: 0.5)");
}

InternVLVisionConfig ReadTransformersFormat(const JsonFile& config) {
  InternVLVisionConfig c;
  c.format = InternVLConfigFormat::kTransformers;
  // transformers' InternVLVisionConfig defaults (InternVL3-1B-hf's tower).
  c.vision = ReadInternViT(
      config, {1024, 24, 16, 4096, 448, "layer_norm", false, "use_qk_norm", "attention_bias"});
  c.vision.encoder.qk_norm_eps = 1e-6;  // InternVLVisionRMSNorm's default: layer_norm_eps unused
  Check(config.GetOr<bool>("vision_config.use_absolute_position_embeddings", true), config.path(),
        ": vision_config.use_absolute_position_embeddings false is not supported");
  c.vision.layers_used = LayersUsed(config, "vision_feature_layer", c.vision.num_layers);
  const int64_t feature_layer = config.GetOr<int64_t>("vision_feature_layer", -1);
  c.vision.final_layer_norm =
      !config.GetOr<bool>("vision_config.use_mean_pooling", true) && feature_layer == -1;
  const auto strategy = config.GetOr<std::string>("vision_feature_select_strategy", "default");
  Check(strategy == "default", config.path(), ": vision_feature_select_strategy '", strategy,
        "' is not supported (default: the class token is dropped before the pixel shuffle)");
  c.tile_size = c.vision.image_size;  // the processor's size is what counts (the family checks)
  c.projector_act = config.GetOr<std::string>("projector_hidden_act", "gelu");
  CheckActivation(c.projector_act, config.path() + ": projector_hidden_act");
  c.text_hidden_size = ReadTextHidden(config, "text_config.hidden_size");
  return c;
}

InternVLVisionConfig ReadOpenGVLabFormat(const JsonFile& config) {
  InternVLVisionConfig c;
  c.format = InternVLConfigFormat::kOpenGVLab;
  // OpenGVLab's InternVisionConfig defaults (InternViT-6B's).
  c.vision = ReadInternViT(
      config, {3200, 48, 25, 12800, 224, "rms_norm", true, "qk_normalization", "qkv_bias"});
  c.vision.encoder.qk_norm_eps = c.vision.encoder.norm_eps;  // InternAttention's q_norm/k_norm
  c.vision.layers_used = LayersUsed(config, "select_layer", c.vision.num_layers);
  const auto ps_version = config.GetOr<std::string>("ps_version", "v1");
  Check(ps_version == "v2", config.path(), ": ps_version '", ps_version,
        "' is not supported (v2; v1, the default when absent, leaves the image transposed)");
  // InternVLChatModel counts its image tokens from this size (num_image_token).
  c.tile_size = config.Find<int64_t>("force_image_size").value_or(c.vision.image_size);
  const int64_t side = c.tile_size / c.vision.patch_size;
  Check(c.tile_size > 0 && c.tile_size % c.vision.patch_size == 0 && side % 2 == 0, config.path(),
        ": tiles of ", c.tile_size, " pixels (force_image_size, else vision_config.image_size) ",
        "are not an even number of vision_config.patch_size (", c.vision.patch_size,
        ") patches a side, which the 2x2 pixel shuffle needs");
  c.projector_act = "gelu";  // mlp1's nn.GELU()
  c.text_hidden_size = ReadTextHidden(config, "llm_config.hidden_size");
  return c;
}

}  // namespace

InternVLVisionConfig ReadInternVLVisionConfig(const JsonFile& config) {
  const std::optional<std::string> model_type = config.Find<std::string>("model_type");
  bool opengvlab = false;
  if (model_type == "internvl_chat") {
    opengvlab = true;
  } else if (model_type && *model_type != "internvl") {
    Fail(config.path(), ": model_type '", *model_type,
         "' is not InternVL's (internvl, internvl_chat)");
  } else if (!model_type) {
    opengvlab = config.Node("llm_config") != nullptr;
    Check(opengvlab || config.Node("text_config") != nullptr, config.path(),
          ": neither model_type nor text_config / llm_config says which InternVL format this is");
  }
  CheckDownsampleRatio(config);
  return opengvlab ? ReadOpenGVLabFormat(config) : ReadTransformersFormat(config);
}

}  // namespace lightvlm
