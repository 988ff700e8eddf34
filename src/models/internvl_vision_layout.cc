#include "models/internvl_vision_layout.h"

#include "base/error.h"

namespace lightvlm {
namespace {

// transformers' InternVLVisionModel and InternVLMultiModalProjector under `prefix`.
InternVLVisionLayout TransformersLayout(const std::string& name, const std::string& prefix) {
  InternVLVisionLayout layout;
  layout.name = name;
  InternViTTensorNames& v = layout.vision;
  v.class_embedding = prefix + "vision_tower.embeddings.cls_token";
  v.patch_embedding = prefix + "vision_tower.embeddings.patch_embeddings.projection";
  v.position_embedding = prefix + "vision_tower.embeddings.position_embeddings";
  v.layers = prefix + "vision_tower.encoder.layer.";
  v.layer.norm1 = "layernorm_before";
  v.layer.q = "attention.q_proj";
  v.layer.k = "attention.k_proj";
  v.layer.v = "attention.v_proj";
  v.layer.q_norm = "attention.q_norm";
  v.layer.k_norm = "attention.k_norm";
  v.layer.out = "attention.projection_layer";
  v.layer.layer_scale1 = "lambda_1";
  v.layer.layer_scale2 = "lambda_2";
  v.layer.norm2 = "layernorm_after";
  v.layer.fc1 = "mlp.fc1";
  v.layer.fc2 = "mlp.fc2";
  v.final_layer_norm = prefix + "vision_tower.layernorm";
  layout.projector_norm = prefix + "multi_modal_projector.layer_norm";
  layout.projector_in = prefix + "multi_modal_projector.linear_1";
  layout.projector_out = prefix + "multi_modal_projector.linear_2";
  return layout;
}

// OpenGVLab's InternVisionModel (modeling_intern_vit.py) and InternVLChatModel's mlp1, an
// nn.Sequential of LayerNorm, Linear, GELU, Linear.
InternVLVisionLayout OpenGVLabLayout() {
  InternVLVisionLayout layout;
  layout.name = "OpenGVLab InternVLChatModel (vision_model.*, mlp1.*)";
  InternViTTensorNames& v = layout.vision;
  v.class_embedding = "vision_model.embeddings.class_embedding";
  v.patch_embedding = "vision_model.embeddings.patch_embedding";
  v.position_embedding = "vision_model.embeddings.position_embedding";
  v.layers = "vision_model.encoder.layers.";
  v.layer.norm1 = "norm1";
  v.layer.qkv = "attn.qkv";
  v.layer.q_norm = "attn.q_norm";
  v.layer.k_norm = "attn.k_norm";
  v.layer.out = "attn.proj";
  v.layer.layer_scale1 = "ls1";
  v.layer.layer_scale2 = "ls2";
  v.layer.norm2 = "norm2";
  v.layer.fc1 = "mlp.fc1";
  v.layer.fc2 = "mlp.fc2";
  layout.projector_norm = "mlp1.0";
  layout.projector_in = "mlp1.1";
  layout.projector_out = "mlp1.3";
  return layout;
}

}  // namespace

const std::vector<InternVLVisionLayout>& InternVLVisionLayouts() {
  static const std::vector<InternVLVisionLayout> layouts = {
      OpenGVLabLayout(),
      TransformersLayout("transformers (vision_tower.*, multi_modal_projector.*)", ""),
      TransformersLayout("transformers 4.52 to 4.57 (model.vision_tower.*, "
                         "model.multi_modal_projector.*)",
                         "model."),
  };
  return layouts;
}

const InternVLVisionLayout& FindInternVLVisionLayout(const TensorSource& weights,
                                                     const std::string& where) {
  std::string expected;
  for (const InternVLVisionLayout& layout : InternVLVisionLayouts()) {
    if (weights.Contains(layout.vision.class_embedding)) return layout;
    expected += StrCat("\n  ", layout.name, ": ", layout.vision.class_embedding);
  }
  Fail(where, ": no InternVL vision tower found; expected one of", expected);
}

}  // namespace lightvlm
