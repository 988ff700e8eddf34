#!/usr/bin/env python3
"""Writes a random-weight checkpoint with the exact shapes of a real model, for speed tests.

    python3 tools/make_shaped_checkpoint.py --shape llava-1.5-7b --out /tmp/llava7b [--dtype bf16]
    python3 tools/make_shaped_checkpoint.py --shape llava-smollm2-135m --out /tmp/smol
    python3 tools/make_shaped_checkpoint.py --shape llava-qwen2-1.5b --out /tmp/qwen15

The result is a Hugging Face LLaVA directory (config.json, model.safetensors, tokenizer and
preprocessor files) that `lightvlm run`, `bench` and `eval` load like a downloaded one. Weights are
N(0, 0.02) (norm weights 1), so timings are real and answers are noise. The tokenizer and image
processor are the tiny LLaVA fixture's (tests/fixtures/llava/model): its <image> token is id 1000,
which config.json's image_token_index names. Needs only numpy; deterministic under --seed.
"""
import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "llava" / "model"

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
}


def tensor_specs(shape):
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
    h, m = t["hidden_size"], t["intermediate_size"]
    kv = h // t["num_attention_heads"] * t["num_key_value_heads"]
    specs += [("multi_modal_projector.linear_1.weight", [h, d]),
              ("multi_modal_projector.linear_1.bias", [h]),
              ("multi_modal_projector.linear_2.weight", [h, h]),
              ("multi_modal_projector.linear_2.bias", [h]),
              ("language_model.model.embed_tokens.weight", [t["vocab_size"], h])]
    for i in range(t["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        specs += [(p + "input_layernorm.weight", [h]),
                  (p + "self_attn.q_proj.weight", [h, h]), (p + "self_attn.k_proj.weight", [kv, h]),
                  (p + "self_attn.v_proj.weight", [kv, h]), (p + "self_attn.o_proj.weight", [h, h]),
                  (p + "post_attention_layernorm.weight", [h]),
                  (p + "mlp.gate_proj.weight", [m, h]), (p + "mlp.up_proj.weight", [m, h]),
                  (p + "mlp.down_proj.weight", [h, m])]
    specs += [("language_model.model.norm.weight", [h]),
              ("language_model.lm_head.weight", [t["vocab_size"], h])]
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


def config_json(shape, dtype):
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
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json", "chat_template.json"):
        if (FIXTURE / name).exists():
            shutil.copy(FIXTURE / name, args.out / name)
    # The fixture's image processor, at this shape's image size.
    processor = json.loads((args.out / "preprocessor_config.json").read_text())
    side = shape["vision"]["image_size"]
    processor["crop_size"] = {"height": side, "width": side}
    processor["size"] = {"shortest_edge": side}
    (args.out / "preprocessor_config.json").write_text(json.dumps(processor, indent=2) + "\n")
    (args.out / "config.json").write_text(json.dumps(config_json(shape, dtype), indent=2) + "\n")
    size = write_safetensors(args.out / "model.safetensors", tensor_specs(shape), dtype, args.seed)
    print(f"wrote {args.out}: {size / 2**30:.2f} GiB of {dtype} weights")


if __name__ == "__main__":
    main()
