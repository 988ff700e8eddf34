#include "models/clip_vision.h"

#include <cstring>

#include "base/error.h"
#include "ops/ops.h"

namespace lightvlm {
namespace {

VitEncoderConfig EncoderConfig(const ClipVisionConfig& c) {
  VitEncoderConfig encoder;
  encoder.hidden_size = c.hidden_size;
  encoder.intermediate_size = c.intermediate_size;
  encoder.num_heads = c.num_heads;
  encoder.hidden_act = c.hidden_act;
  encoder.norm_type = VitNormType::kLayerNorm;
  encoder.norm_eps = c.layer_norm_eps;
  encoder.attention_bias = true;
  return encoder;
}

int64_t CheckedLayersUsed(int64_t layers_used, const ClipVisionConfig& c) {
  Check(layers_used >= 0 && layers_used <= c.num_layers, "vision tower: cannot use ", layers_used,
        " of its ", c.num_layers, " layers");
  return layers_used;
}

}  // namespace

VitLayerTensorNames ClipLayerNames() {
  VitLayerTensorNames names;
  names.norm1 = "layer_norm1";
  names.q = "self_attn.q_proj";
  names.k = "self_attn.k_proj";
  names.v = "self_attn.v_proj";
  names.out = "self_attn.out_proj";
  names.norm2 = "layer_norm2";
  names.fc1 = "mlp.fc1";
  names.fc2 = "mlp.fc2";
  return names;
}

ClipVisionConfig ReadClipVisionConfig(const JsonFile& config, const std::string& prefix) {
  ClipVisionConfig c;
  auto read = [&](const char* name, int64_t& field) {
    field = config.GetOr<int64_t>(prefix + name, field);
    Check(field > 0, config.path(), ": ", prefix, name, " must be positive, got ", field);
  };
  read("hidden_size", c.hidden_size);
  read("intermediate_size", c.intermediate_size);
  read("num_hidden_layers", c.num_layers);
  read("num_attention_heads", c.num_heads);
  read("num_channels", c.num_channels);
  read("image_size", c.image_size);
  read("patch_size", c.patch_size);
  c.hidden_act = config.GetOr<std::string>(prefix + "hidden_act", c.hidden_act);
  c.layer_norm_eps = config.GetOr<double>(prefix + "layer_norm_eps", c.layer_norm_eps);
  CheckActivation(c.hidden_act, config.path() + ": " + prefix + "hidden_act");
  Check(c.hidden_size % c.num_heads == 0, config.path(), ": ", prefix, "num_attention_heads (",
        c.num_heads, ") does not divide ", prefix, "hidden_size (", c.hidden_size, ")");
  Check(c.image_size % c.patch_size == 0, config.path(), ": ", prefix, "patch_size (", c.patch_size,
        ") does not divide ", prefix, "image_size (", c.image_size, ")");
  return c;
}

ClipVisionTower::ClipVisionTower(const ClipVisionConfig& config, const TensorSource& weights,
                                 const std::string& prefix, int64_t layers_used, DType weight_dtype)
    : config_(config),
      patch_embedding_(LoadPatchEmbedding(weights, prefix + "embeddings.patch_embedding",
                                          config.hidden_size, config.num_channels,
                                          config.patch_size, /*has_bias=*/false)),
      class_embedding_(
          weights.LoadF32(prefix + "embeddings.class_embedding", {config.hidden_size})),
      position_embedding_(weights.LoadF32(prefix + "embeddings.position_embedding.weight",
                                          {1 + config.num_patches(), config.hidden_size})),
      // "pre_layrnorm" is how transformers spells it.
      pre_norm_weight_(weights.LoadF32(prefix + "pre_layrnorm.weight", {config.hidden_size})),
      pre_norm_bias_(weights.LoadF32(prefix + "pre_layrnorm.bias", {config.hidden_size})),
      encoder_(EncoderConfig(config), weights, prefix + "encoder.layers.", ClipLayerNames(),
               CheckedLayersUsed(layers_used, config), weight_dtype) {}

Tensor ClipVisionTower::Forward(ThreadPool& pool, const Tensor& pixels,
                                std::vector<float>* class_attention) const {
  const ClipVisionConfig& c = config_;
  const int64_t n = 1 + c.num_patches(), d = c.hidden_size;
  Check(pixels.shape() == Shape{c.num_channels, c.image_size, c.image_size},
        "vision tower: pixel values have shape ", ShapeToString(pixels.shape()), ", expected ",
        ShapeToString({c.num_channels, c.image_size, c.image_size}));
  Tensor hidden(DType::kF32, {n, d});
  std::memcpy(hidden.f32(), class_embedding_.f32(), d * sizeof(float));
  patch_embedding_.Forward(pool, pixels, hidden.f32() + d);
  ops::Add(pool, hidden.f32(), position_embedding_.f32(), n * d);
  ops::LayerNorm(pool, hidden.f32(), pre_norm_weight_.f32(), pre_norm_bias_.f32(), n, d,
                 static_cast<float>(c.layer_norm_eps), hidden.f32());
  encoder_.Forward(pool, hidden, class_attention);
  return hidden;
}

}  // namespace lightvlm
