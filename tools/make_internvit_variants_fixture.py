#!/usr/bin/env python3
"""A tiny InternViT with the options the main InternVL fixture leaves off, and its outputs.

tests/fixtures/internvl/ is InternViT-300M-shaped (LayerNorm, no QK-norm, q/k/v biases, positions
at the tile's size). This one is InternViT-6B-shaped where it differs, from transformers 5.25's own
classes: RMSNorm (norm_type "rms_norm"), QK-norm (use_qk_norm), no q/k/v biases; plus
use_mean_pooling false (a LayerNorm after the last layer, in last_hidden_state only) and a position
table for 42-pixel images (3x3 patches) given 56-pixel tiles (4x4), so the positions are resized
bicubically. Only the vision tower and the projector are stored (the LLM is not needed: the
projector's output is the check).

Writes <out>/model (transformers' config.json and the vision_tower.* / multi_modal_projector.*
tensors), <out>/original (the same model in OpenGVLab's layout, by
make_internvl_original_fixture.py, without the post-norm, which InternVisionModel lacks) and
<out>/golden.safetensors + golden.json.

Usage:
    .venv5/bin/python tools/make_internvit_variants_fixture.py [--out tests/fixtures/internvit_variants]
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import safetensors.torch  # noqa: E402
import torch  # noqa: E402
from transformers import (  # noqa: E402
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLVisionConfig,
    Qwen2Config,
)

import make_internvl_original_fixture as original  # noqa: E402

torch.set_num_threads(1)

SEED = 4101
TABLE_IMAGE = 42  # the position table: 3x3 patches of 14
TILE = 56  # the tiles given: 4x4 patches, 2x2 = 4 tokens after the pixel shuffle
TILES = 2


def make_model():
    vision = InternVLVisionConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, hidden_act="gelu",
        use_qk_norm=True, norm_type="rms_norm", layer_norm_eps=1e-5, image_size=[TABLE_IMAGE, TABLE_IMAGE],
        patch_size=[14, 14], attention_bias=False, layer_scale_init_value=0.1,
        use_absolute_position_embeddings=True, use_mean_pooling=False)
    text = Qwen2Config(vocab_size=16, hidden_size=64, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=4, num_key_value_heads=2, bos_token_id=None, eos_token_id=None,
                       pad_token_id=None, tie_word_embeddings=False)
    config = InternVLConfig(vision_config=vision, text_config=text, image_token_id=15, image_seq_length=4,
                            downsample_ratio=0.5, projector_hidden_act="gelu", vision_feature_layer=-1,
                            vision_feature_select_strategy="default", tie_word_embeddings=False)
    model = mf.make_model(InternVLForConditionalGeneration, config, SEED)
    # Layer scale as in make_internvl_fixture.py: 0.5 + N(0, 0.1), so every block shows.
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if "lambda_" in name:
                p.copy_(0.5 + 0.1 * torch.randn(p.shape, generator=g))
    return model


def positions(embeddings, height, width):
    """The tower's patch positions for a height x width image [rows * columns, hidden]."""
    rows, columns = height // 14, width // 14
    dummy = torch.zeros(1, 1 + rows * columns, embeddings.position_embeddings.shape[-1])
    return embeddings.interpolate_pos_encoding(dummy, height, width)[0, 1:]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "fixtures" / "internvit_variants"))
    args = ap.parse_args(argv)
    out = mf.fresh_dir(Path(args.out))
    model = make_model()
    pixels = torch.randn(TILES, 3, TILE, TILE, generator=torch.Generator().manual_seed(SEED + 2))

    with torch.no_grad():
        tower = model.model.vision_tower
        vision = tower(pixel_values=pixels, output_hidden_states=True)
        features = {layer: model.model.get_image_features(pixel_values=pixels,
                                                          vision_feature_layer=layer).pooler_output
                    for layer in (-1, 1, 2)}
        embeddings = tower.embeddings
        tensors = {
            "pixel_values": pixels,
            "position_table": embeddings.position_embeddings[0].clone(),
            "positions_4x4": positions(embeddings, 56, 56),
            "positions_4x6": positions(embeddings, 56, 84),
            "positions_2x2": positions(embeddings, 28, 28),
            "last_hidden_state": vision.last_hidden_state,
            "hidden_state_1": vision.hidden_states[1],
            "image_features": features[-1],
            "image_features_layer1": features[1],
            "image_features_layer2": features[2],
        }
    assert len(vision.hidden_states) == 3
    assert not torch.equal(vision.hidden_states[2], vision.last_hidden_state)  # the post-norm acts

    model_dir = out / "model"
    model_dir.mkdir()
    model.config.save_pretrained(str(model_dir))
    state = {k: v.detach().contiguous() for k, v in model.model.state_dict().items()
             if k.startswith(("vision_tower.", "multi_modal_projector."))}
    safetensors.torch.save_file(state, str(model_dir / "model.safetensors"), metadata={"format": "pt"})

    # OpenGVLab's layout: no post-norm there, so select_layer -1 is transformers' layer 2.
    original_dir = out / "original"
    original_dir.mkdir()
    del state["vision_tower.layernorm.weight"], state["vision_tower.layernorm.bias"]
    safetensors.torch.save_file(state, str(original_dir / "model.safetensors"), metadata={"format": "pt"})
    native_config = json.loads((model_dir / "config.json").read_text())
    native_config["vision_config"]["use_mean_pooling"] = True
    (original_dir / "config.json").write_text(json.dumps(native_config))
    original.write_original(original_dir, original_dir, max_dynamic_patch=6, force_image_size=TILE)

    desc = {
        "pixel_values": f"random N(0, 1) tiles [{TILES}, 3, {TILE}, {TILE}]",
        "position_table": "vision_tower.embeddings.position_embeddings[0] [1 + 3 * 3, 32]",
        "positions_4x4": "embeddings.interpolate_pos_encoding(., 56, 56)[0, 1:]: the 3x3 table resized "
                         "bicubically to 4x4 [16, 32]",
        "positions_4x6": "the same for a 56x84 image: 4x6 [24, 32]",
        "positions_2x2": "the same for a 28x28 image: 2x2 [4, 32]",
        "last_hidden_state": "vision_tower(pixel_values).last_hidden_state: after the post-norm (use_mean_pooling "
                             "false) [2, 17, 32]",
        "hidden_state_1": "vision_tower(pixel_values).hidden_states[1]: after layer 1 [2, 17, 32]",
        "image_features": "get_image_features(pixel_values).pooler_output (vision_feature_layer -1: the "
                          "post-norm's output) [2, 4, 64]",
        "image_features_layer1": "the same with vision_feature_layer=1 [2, 4, 64]",
        "image_features_layer2": "the same with vision_feature_layer=2: the last layer without the post-norm, "
                                 "as original/ with select_layer -1 [2, 4, 64]",
    }
    info = {
        "generator": "tools/make_internvit_variants_fixture.py",
        "versions": mf.versions(),
        "seed": SEED,
        "model": "InternViT hidden 32, 2 layers, 2 heads, RMSNorm (eps 1e-5), QK-norm, no q/k/v bias, layer "
                 "scale 0.5 + N(0, 0.1), use_mean_pooling false, position table 3x3 (image_size 42), "
                 "tiles 56; projector LayerNorm 128, linear 128->64, gelu, linear 64->64",
        "model_dir": "model",
        "original_dir": "original (OpenGVLab's names, fused attn.qkv; no post-norm)",
    }
    mf.write_golden(out, tensors, desc, info)
    print(f"wrote {out} ({mf.dir_size(out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
