#!/usr/bin/env python3
"""Writes a random-weight checkpoint with the exact shapes of a real model, for speed tests.

    python3 tools/make_shaped_checkpoint.py --shape llava-1.5-7b --out /tmp/llava7b [--dtype bf16]
    python3 tools/make_shaped_checkpoint.py --shape llava-smollm2-135m --out /tmp/smol
    python3 tools/make_shaped_checkpoint.py --shape llava-qwen2-1.5b --out /tmp/qwen15
    python3 tools/make_shaped_checkpoint.py --shape internvl2.5-1b --out /tmp/internvl1b
    python3 tools/make_shaped_checkpoint.py --shape internvl2.5-8b --out /tmp/internvl8b
    python3 tools/make_shaped_checkpoint.py --shape qwen2-vl-2b --out /tmp/qwen2vl2b
    python3 tools/make_shaped_checkpoint.py --shape qwen2.5-vl-7b --out /tmp/qwen25vl7b

The result is a Hugging Face directory (config.json, model.safetensors, tokenizer and processor
files) that `lightvlm run`, `bench` and `eval` load like a downloaded one. Weights are N(0, 0.02)
(norm weights 1, biases 0), so timings are real and answers are noise.
LLaVA shapes: the tokenizer and image processor are the tiny LLaVA fixture's
(tests/fixtures/llava/model); its <image> token is id 1000, which config.json's image_token_index
names. InternVL shapes are written in transformers' -hf layout (InternVLForConditionalGeneration):
the tokenizer, chat template and processor are the tiny InternVL fixture's
(tests/fixtures/internvl/model) with the real tiles (448 px, at most 12 and a thumbnail, 256 tokens
a tile); its <IMG_CONTEXT> is id 952, which config.json's image_token_id names. The LLM's vocab is
the real model's; ids past the fixture tokenizer's are never produced by it (answers are noise
anyway). Qwen2-VL shapes are written in Qwen's own layout (visual.*, model.*, lm_head.weight) with a
4.x config.json; the tokenizer, chat template and image processor are the tiny Qwen2-VL fixture's
(tests/fixtures/qwen2vl/model; <|image_pad|> is id 952, <|vision_start|> 950) with Qwen's real
min_pixels 56*56 and max_pixels 12845056. Needs only numpy; deterministic under --seed.
"""
import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FIXTURES = {"llava": REPO / "tests" / "fixtures" / "llava" / "model",
            "internvl": REPO / "tests" / "fixtures" / "internvl" / "model",
            "qwen2_vl": REPO / "tests" / "fixtures" / "qwen2vl" / "model"}
FIXTURE_FILES = {
    "llava": ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
              "preprocessor_config.json", "chat_template.json"),
    "internvl": ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                 "processor_config.json", "generation_config.json"),
    "qwen2_vl": ("tokenizer.json", "tokenizer_config.json", "chat_template.json",
                 "preprocessor_config.json", "generation_config.json"),
}
INTERNVL_IMAGE_TOKEN_ID = 952  # <IMG_CONTEXT> in tests/fixtures/internvl/model/tokenizer.json

# llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14 at 336 px, 2-layer MLP projector, Vicuna-7B (Llama).
SHAPES = {
    "llava-1.5-7b": {
        "vision": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                       num_attention_heads=16, image_size=336, patch_size=14),
        "text": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                     num_attention_heads=32, num_key_value_heads=32, vocab_size=32064,
                     max_position_embeddings=4096),
    },
    # A small LLaVA for decode timings: the LLM has HuggingFaceTB/SmolLM2-135M's exact shape
    # (30 layers, hidden 576, 9 heads, 3 KV heads, MLP 1536, vocab 49152, rope_theta 100000)
    # except max_position_embeddings, raised from 8192 to 32768 so long caches can be timed; the
    # vision tower is CLIP ViT-B/16 at 224 px (196 image tokens).
    "llava-smollm2-135m": {
        "vision": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                       num_attention_heads=12, image_size=224, patch_size=16),
        "text": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                     num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                     max_position_embeddings=32768, rope_theta=100000.0),
    },
    # A LLaVA whose LLM has Qwen/Qwen2-1.5B's sizes (28 layers, hidden 1536, 12 heads, 2 KV heads,
    # MLP 8960, vocab 151936; 1.54B parameters in the decoder's matrices, lm_head included) for
    # issue 7's speed goals, written as a Llama (no q/k/v biases: 0.3% of the bytes); the vision
    # tower is CLIP ViT-B/16 at 224 px (196 image tokens).
    "llava-qwen2-1.5b": {
        "vision": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                       num_attention_heads=12, image_size=224, patch_size=16),
        "text": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
                     num_attention_heads=12, num_key_value_heads=2, vocab_size=151936,
                     max_position_embeddings=32768, rope_theta=1000000.0),
    },
    # OpenGVLab/InternVL2_5-1B (config.json: force_image_size 448, downsample_ratio 0.5,
    # max_dynamic_patch 12, ps_version v2; llm_config Qwen/Qwen2.5-0.5B-Instruct: hidden 896,
    # 24 layers, 14 heads, 2 KV heads, MLP 4864, vocab 151674, rope_theta 1e6,
    # max_position_embeddings 32768, q/k/v biases). Qwen2.5-0.5B ties its embeddings, but
    # InternVL2_5-1B's model.safetensors (1.88 GB in bf16 = 0.94 G weights) holds its own lm_head:
    # untied, as here (0.80 G weights if tied). Vision: InternViT-300M-448px-V2_5 (hidden 1024,
    # 24 layers, 16 heads, MLP 4096, 448 px, patch 14, LayerNorm, no QK-norm, layer scale);
    # projector LayerNorm(4096) -> 4096x896 -> gelu -> 896x896.
    "internvl2.5-1b": {
        "family": "internvl",
        "vision": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                       num_attention_heads=16, image_size=448, patch_size=14),
        "text": dict(model_type="qwen2", hidden_size=896, intermediate_size=4864,
                     num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                     vocab_size=151674, max_position_embeddings=32768, rope_theta=1000000.0,
                     rms_norm_eps=1e-6, tie_word_embeddings=False),
    },
    # OpenGVLab/InternVL2_5-8B: the same InternViT-300M and a projector 4096 -> 4096; llm_config
    # internlm/internlm2_5-7b-chat (hidden 4096, 32 layers, 32 heads, 8 KV heads, MLP 14336,
    # rope_theta 1e6, max_position_embeddings 32768, untied, no biases; vocab 92553 in InternVL's
    # llm_config, 92544 in InternLM2.5's own), written as the Llama text_config that transformers'
    # conversion to -hf makes of InternLM2 (wqkv split into q/k/v_proj). Its dynamic NTK RoPE
    # scaling (factor 2) only changes positions past 32768 and is left out: it costs nothing here.
    "internvl2.5-8b": {
        "family": "internvl",
        "vision": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                       num_attention_heads=16, image_size=448, patch_size=14),
        "text": dict(model_type="llama", hidden_size=4096, intermediate_size=14336,
                     num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                     vocab_size=92553, max_position_embeddings=32768, rope_theta=1000000.0,
                     rms_norm_eps=1e-5, tie_word_embeddings=False),
    },
    # Qwen/Qwen2-VL-2B-Instruct: vision depth 32, embed_dim 1280, 16 heads, mlp_ratio 4 (quick_gelu,
    # LayerNorm), merger to 1536; Qwen2-1.5B decoder (hidden 1536, 28 layers, 12 heads, 2 KV heads,
    # MLP 8960, vocab 151936, q/k/v biases, rope_theta 1e6, tied embeddings), mrope_section
    # [16, 24, 24].
    "qwen2-vl-2b": {
        "family": "qwen2_vl",
        "vision": dict(depth=32, embed_dim=1280, num_heads=16, mlp_ratio=4, hidden_size=1536),
        "text": dict(model_type="qwen2_vl", hidden_size=1536, intermediate_size=8960,
                     num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                     vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0,
                     rms_norm_eps=1e-6, tie_word_embeddings=True),
    },
    # Qwen/Qwen2.5-VL-7B-Instruct: vision depth 32, hidden 1280, 16 heads, SwiGLU MLP 3420, RMSNorm,
    # 112-px windows, full attention in layers 7, 15, 23, 31, merger to 3584; Qwen2.5-7B decoder
    # (hidden 3584, 28 layers, 28 heads, 4 KV heads, MLP 18944, vocab 152064, q/k/v biases,
    # rope_theta 1e6, untied), mrope_section [16, 24, 24].
    "qwen2.5-vl-7b": {
        "family": "qwen2_vl",
        "vision": dict(depth=32, hidden_size=1280, num_heads=16, intermediate_size=3420,
                       out_hidden_size=3584, window_size=112, fullatt_block_indexes=[7, 15, 23, 31],
                       hidden_act="silu"),
        "text": dict(model_type="qwen2_5_vl", hidden_size=3584, intermediate_size=18944,
                     num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                     vocab_size=152064, max_position_embeddings=128000, rope_theta=1000000.0,
                     rms_norm_eps=1e-6, tie_word_embeddings=False),
    },
}


def family(shape):
    return shape.get("family", "llava")


def decoder_specs(t, prefix, qkv_bias):
    """The Llama/Qwen2 decoder under `prefix` ("language_model."), lm_head unless tied."""
    h, m = t["hidden_size"], t["intermediate_size"]
    kv = h // t["num_attention_heads"] * t["num_key_value_heads"]
    specs = [(prefix + "model.embed_tokens.weight", [t["vocab_size"], h])]
    for i in range(t["num_hidden_layers"]):
        p = f"{prefix}model.layers.{i}."
        specs += [(p + "input_layernorm.weight", [h]),
                  (p + "self_attn.q_proj.weight", [h, h]), (p + "self_attn.k_proj.weight", [kv, h]),
                  (p + "self_attn.v_proj.weight", [kv, h]), (p + "self_attn.o_proj.weight", [h, h])]
        if qkv_bias:
            specs += [(p + "self_attn.q_proj.bias", [h]), (p + "self_attn.k_proj.bias", [kv]),
                      (p + "self_attn.v_proj.bias", [kv])]
        specs += [(p + "post_attention_layernorm.weight", [h]),
                  (p + "mlp.gate_proj.weight", [m, h]), (p + "mlp.up_proj.weight", [m, h]),
                  (p + "mlp.down_proj.weight", [h, m])]
    specs += [(prefix + "model.norm.weight", [h])]
    if not t.get("tie_word_embeddings", False):
        specs += [(prefix + "lm_head.weight", [t["vocab_size"], h])]
    return specs


def internvl_specs(shape):
    """transformers' InternVL layout: InternViT, pixel-shuffle projector, the LLM."""
    v, t = shape["vision"], shape["text"]
    d, f = v["hidden_size"], v["intermediate_size"]
    patches = (v["image_size"] // v["patch_size"]) ** 2
    specs = [("vision_tower.embeddings.cls_token", [1, 1, d]),
             ("vision_tower.embeddings.patch_embeddings.projection.weight",
              [d, 3, v["patch_size"], v["patch_size"]]),
             ("vision_tower.embeddings.patch_embeddings.projection.bias", [d]),
             ("vision_tower.embeddings.position_embeddings", [1, patches + 1, d])]
    for i in range(v["num_hidden_layers"]):
        p = f"vision_tower.encoder.layer.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "projection_layer"):
            specs += [(p + f"attention.{name}.weight", [d, d]), (p + f"attention.{name}.bias", [d])]
        specs += [(p + "lambda_1", [d]), (p + "lambda_2", [d]),
                  (p + "layernorm_before.weight", [d]), (p + "layernorm_before.bias", [d]),
                  (p + "mlp.fc1.weight", [f, d]), (p + "mlp.fc1.bias", [f]),
                  (p + "mlp.fc2.weight", [d, f]), (p + "mlp.fc2.bias", [d]),
                  (p + "layernorm_after.weight", [d]), (p + "layernorm_after.bias", [d])]
    shuffled, h = 4 * d, t["hidden_size"]  # pixel shuffle at downsample_ratio 0.5: 2x2 patches
    specs += [("multi_modal_projector.layer_norm.weight", [shuffled]),
              ("multi_modal_projector.layer_norm.bias", [shuffled]),
              ("multi_modal_projector.linear_1.weight", [h, shuffled]),
              ("multi_modal_projector.linear_1.bias", [h]),
              ("multi_modal_projector.linear_2.weight", [h, h]),
              ("multi_modal_projector.linear_2.bias", [h])]
    return specs + decoder_specs(t, "language_model.", t["model_type"] == "qwen2")


def qwen2_vl_specs(shape):
    """Qwen's layout: visual.* (the tower and its merger), then the decoder under model.*."""
    v, t = shape["vision"], shape["text"]
    qwen25 = t["model_type"] == "qwen2_5_vl"
    d = v["hidden_size"] if qwen25 else v["embed_dim"]
    f = v["intermediate_size"] if qwen25 else d * v["mlp_ratio"]
    out = v["out_hidden_size"] if qwen25 else v["hidden_size"]
    specs = [("visual.patch_embed.proj.weight", [d, 3, 2, 14, 14])]
    for i in range(v["depth"]):
        p = f"visual.blocks.{i}."
        for norm in ("norm1", "norm2"):
            specs += [(p + norm + ".weight", [d])] + ([] if qwen25 else [(p + norm + ".bias", [d])])
        specs += [(p + "attn.qkv.weight", [3 * d, d]), (p + "attn.qkv.bias", [3 * d]),
                  (p + "attn.proj.weight", [d, d]), (p + "attn.proj.bias", [d])]
        if qwen25:
            specs += [(p + "mlp.gate_proj.weight", [f, d]), (p + "mlp.gate_proj.bias", [f]),
                      (p + "mlp.up_proj.weight", [f, d]), (p + "mlp.up_proj.bias", [f]),
                      (p + "mlp.down_proj.weight", [d, f]), (p + "mlp.down_proj.bias", [d])]
        else:
            specs += [(p + "mlp.fc1.weight", [f, d]), (p + "mlp.fc1.bias", [f]),
                      (p + "mlp.fc2.weight", [d, f]), (p + "mlp.fc2.bias", [d])]
    specs += [("visual.merger.ln_q.weight", [d])] + ([] if qwen25 else [("visual.merger.ln_q.bias", [d])])
    specs += [("visual.merger.mlp.0.weight", [4 * d, 4 * d]), ("visual.merger.mlp.0.bias", [4 * d]),
              ("visual.merger.mlp.2.weight", [out, 4 * d]), ("visual.merger.mlp.2.bias", [out])]
    return specs + decoder_specs(t, "", qkv_bias=True)


def qwen2_vl_config_json(shape, dtype):
    v, t = shape["vision"], shape["text"]
    return dict(dict(
        architectures=["Qwen2_5_VLForConditionalGeneration" if t["model_type"] == "qwen2_5_vl"
                       else "Qwen2VLForConditionalGeneration"],
        hidden_act="silu", torch_dtype="bfloat16" if dtype == "BF16" else "float32",
        rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]},
        image_token_id=952, video_token_id=953, vision_start_token_id=950, vision_end_token_id=951,
        eos_token_id=949, bos_token_id=None,  # the fixture tokenizer's ids
        vision_config=dict(dict(patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                                in_channels=3), **v)), **t)


def tensor_specs(shape):
    if family(shape) == "internvl":
        return internvl_specs(shape)
    if family(shape) == "qwen2_vl":
        return qwen2_vl_specs(shape)
    v, t = shape["vision"], shape["text"]
    d, f = v["hidden_size"], v["intermediate_size"]
    patches = (v["image_size"] // v["patch_size"]) ** 2
    specs = [
        ("vision_tower.vision_model.embeddings.patch_embedding.weight",
         [d, 3, v["patch_size"], v["patch_size"]]),
        ("vision_tower.vision_model.embeddings.class_embedding", [d]),
        ("vision_tower.vision_model.embeddings.position_embedding.weight", [patches + 1, d]),
        ("vision_tower.vision_model.pre_layrnorm.weight", [d]),
        ("vision_tower.vision_model.pre_layrnorm.bias", [d]),
    ]
    for i in range(v["num_hidden_layers"]):
        p = f"vision_tower.vision_model.encoder.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            specs += [(p + f"self_attn.{name}.weight", [d, d]), (p + f"self_attn.{name}.bias", [d])]
        specs += [(p + "layer_norm1.weight", [d]), (p + "layer_norm1.bias", [d]),
                  (p + "mlp.fc1.weight", [f, d]), (p + "mlp.fc1.bias", [f]),
                  (p + "mlp.fc2.weight", [d, f]), (p + "mlp.fc2.bias", [d]),
                  (p + "layer_norm2.weight", [d]), (p + "layer_norm2.bias", [d])]
    h = t["hidden_size"]
    specs += [("multi_modal_projector.linear_1.weight", [h, d]),
              ("multi_modal_projector.linear_1.bias", [h]),
              ("multi_modal_projector.linear_2.weight", [h, h]),
              ("multi_modal_projector.linear_2.bias", [h])]
    specs += decoder_specs(t, "language_model.", qkv_bias=False)
    return specs


def random_values(rng, name, shape):
    count = int(np.prod(shape))
    if "norm" in name and name.endswith("weight"):
        return np.ones(count, dtype=np.float32)
    if name.endswith("bias"):
        return np.zeros(count, dtype=np.float32)
    return rng.standard_normal(count, dtype=np.float32) * np.float32(0.02)


def to_bf16_bytes(values):
    bits = values.view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype(np.uint16).tobytes()


def write_safetensors(path, specs, dtype, seed):
    element = 2 if dtype == "BF16" else 4
    header, offset = {}, 0
    for name, shape in specs:
        size = int(np.prod(shape)) * element
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name, shape in specs:
            values = random_values(rng, name, shape)
            out.write(to_bf16_bytes(values) if dtype == "BF16" else values.tobytes())
    return offset


def internvl_config_json(shape, dtype):
    v, t = shape["vision"], shape["text"]
    torch_dtype = "bfloat16" if dtype == "BF16" else "float32"
    tiles_tokens = (v["image_size"] // v["patch_size"] // 2) ** 2  # 256 after the pixel shuffle
    return {
        "architectures": ["InternVLForConditionalGeneration"], "model_type": "internvl",
        "downsample_ratio": 0.5, "image_seq_length": tiles_tokens,
        "image_token_id": INTERNVL_IMAGE_TOKEN_ID, "projector_hidden_act": "gelu",
        "vision_feature_layer": -1, "vision_feature_select_strategy": "default",
        "tie_word_embeddings": t["tie_word_embeddings"], "torch_dtype": torch_dtype,
        "vision_config": dict(
            model_type="internvl_vision", hidden_act="gelu", layer_norm_eps=1e-6,
            norm_type="layer_norm", use_qk_norm=False, attention_bias=True,
            layer_scale_init_value=0.1, use_mean_pooling=True, num_channels=3,
            use_absolute_position_embeddings=True, hidden_size=v["hidden_size"],
            intermediate_size=v["intermediate_size"], num_hidden_layers=v["num_hidden_layers"],
            num_attention_heads=v["num_attention_heads"],
            image_size=[v["image_size"]] * 2, patch_size=[v["patch_size"]] * 2),
        # The fixture tokenizer's ids: <|im_end|> is 949.
        "text_config": dict(dict(hidden_act="silu", eos_token_id=949, bos_token_id=None,
                                 torch_dtype=torch_dtype), **t),
    }


def config_json(shape, dtype):
    if family(shape) == "internvl":
        return internvl_config_json(shape, dtype)
    if family(shape) == "qwen2_vl":
        return qwen2_vl_config_json(shape, dtype)
    v, t = shape["vision"], shape["text"]
    return {
        "architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
        "image_token_index": 1000, "projector_hidden_act": "gelu",
        "vision_feature_layer": -2, "vision_feature_select_strategy": "default",
        "torch_dtype": "bfloat16" if dtype == "BF16" else "float32",
        "vision_config": dict(model_type="clip_vision_model", hidden_act="quick_gelu",
                              layer_norm_eps=1e-5, **v),
        "text_config": dict(dict(model_type="llama", rms_norm_eps=1e-5, rope_theta=10000.0,
                                 hidden_act="silu", tie_word_embeddings=False, bos_token_id=1,
                                 eos_token_id=2), **t),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llava-1.5-7b")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    dtype = "BF16" if args.dtype == "bf16" else "F32"
    args.out.mkdir(parents=True, exist_ok=True)
    fixture = FIXTURES[family(shape)]
    for name in FIXTURE_FILES[family(shape)]:
        shutil.copy(fixture / name, args.out / name)
    side = shape["vision"].get("image_size")
    if family(shape) == "qwen2_vl":
        # The fixture's processor with Qwen's real pixel bounds.
        processor = json.loads((args.out / "preprocessor_config.json").read_text())
        processor["min_pixels"] = processor["size"]["min_pixels"] = 56 * 56
        processor["max_pixels"] = processor["size"]["max_pixels"] = 12845056
        (args.out / "preprocessor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    elif family(shape) == "internvl":
        # The fixture's processor with the real tiles: 448 px, 1..12 of them, 256 tokens each.
        processor = json.loads((args.out / "processor_config.json").read_text())
        processor["image_processor"]["size"] = {"height": side, "width": side}
        processor["image_processor"]["min_patches"] = 1
        processor["image_processor"]["max_patches"] = 12
        processor["image_seq_length"] = (side // shape["vision"]["patch_size"] // 2) ** 2
        (args.out / "processor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    else:
        # The fixture's image processor, at this shape's image size.
        processor = json.loads((args.out / "preprocessor_config.json").read_text())
        processor["crop_size"] = {"height": side, "width": side}
        processor["size"] = {"shortest_edge": side}
        (args.out / "preprocessor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    (args.out / "config.json").write_text(json.dumps(config_json(shape, dtype), indent=2) + "\n")
    size = write_safetensors(args.out / "model.safetensors", tensor_specs(shape), dtype, args.seed)
    print(f"wrote {args.out}: {size / 2**30:.2f} GiB of {dtype} weights")


if __name__ == "__main__":
    main()
