#!/usr/bin/env python3
"""Write an InternVL checkpoint in OpenGVLab's original layout from a transformers "-hf" one.

OpenGVLab publishes InternVL2.5 as InternVLChatModel (config model_type "internvl_chat", modeling
code in the checkpoint's own repository, not on PyPI). Its vision tower and projector hold the same
numbers as transformers' InternVLForConditionalGeneration under other names, and its attention's
q, k and v as one fused `attn.qkv`. This script inverts transformers' published conversion
(models/internvl/convert_internvl_weights_to_hf.py: its ORIGINAL_TO_CONVERTED_KEY_MAPPING_* tables
and the qkv split [:dim], [dim:2*dim], [-dim:]), checks that applying that conversion to its output
gives back every input tensor exactly, and writes config.json in InternVLChatConfig's form
(vision_config as InternVisionConfig, llm_config, select_layer, ps_version, ...).

The result checks *loading* (names, fusion, config fields), not modeling: its tensors are the "-hf"
model's, so a correct loader gives the "-hf" model's features exactly.

Usage:
    .venv5/bin/python tools/make_internvl_original_fixture.py \
        [--model tests/fixtures/internvl/model] [--out tests/fixtures/internvl_original]
"""

import argparse
import json
import re
import shutil
from pathlib import Path

import safetensors.torch
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent

# transformers' conversion, original name -> "-hf" name, applied in order (as the published script
# applies its regex tables); the qkv split is handled apart.
PUBLISHED_VISION_MAPPING = [
    (r"vision_model", "vision_tower"),
    (r"layers", "layer"),
    (r"class_embedding", "cls_token"),
    (r"position_embedding", "position_embeddings"),
    (r"patch_embedding", "patch_embeddings.projection"),
    (r"ls(\d+)", r"lambda_\1"),
    (r"attn.proj", "attention.projection_layer"),
    (r"attn", "attention"),
    (r"norm1", "layernorm_before"),
    (r"norm2", "layernorm_after"),
]
PUBLISHED_PROJECTOR_MAPPING = [
    (r"mlp1.0", "multi_modal_projector.layer_norm"),
    (r"mlp1.1", "multi_modal_projector.linear_1"),
    (r"mlp1.3", "multi_modal_projector.linear_2"),
]

# The inverse, for one encoder layer's modules: "-hf" -> original.
LAYER_MODULES = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.projection_layer": "attn.proj",
    "attention.q_norm": "attn.q_norm",
    "attention.k_norm": "attn.k_norm",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
}
EMBEDDINGS = {
    "vision_tower.embeddings.cls_token": "vision_model.embeddings.class_embedding",
    "vision_tower.embeddings.position_embeddings": "vision_model.embeddings.position_embedding",
    "vision_tower.embeddings.patch_embeddings.projection.weight":
        "vision_model.embeddings.patch_embedding.weight",
    "vision_tower.embeddings.patch_embeddings.projection.bias":
        "vision_model.embeddings.patch_embedding.bias",
}
PROJECTOR = {"layer_norm": "0", "linear_1": "1", "linear_2": "3"}


def to_original(native):
    """The "-hf" state dict -> OpenGVLab's names, q/k/v fused into attn.qkv (q rows first)."""
    out, fused = {}, {}
    for name, tensor in native.items():
        if name.startswith("language_model."):  # the Qwen2 LLM: the same names in both
            out[name] = tensor
        elif name in EMBEDDINGS:
            out[EMBEDDINGS[name]] = tensor
        elif m := re.fullmatch(r"multi_modal_projector\.(layer_norm|linear_1|linear_2)\.(weight|bias)", name):
            out[f"mlp1.{PROJECTOR[m[1]]}.{m[2]}"] = tensor
        elif m := re.fullmatch(r"vision_tower\.encoder\.layer\.(\d+)\.attention\.([qkv])_proj\.(weight|bias)", name):
            fused.setdefault((m[1], m[3]), {})[m[2]] = tensor
        elif m := re.fullmatch(r"vision_tower\.encoder\.layer\.(\d+)\.lambda_([12])", name):
            out[f"vision_model.encoder.layers.{m[1]}.ls{m[2]}"] = tensor
        elif m := re.fullmatch(r"vision_tower\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name):
            assert m[2] in LAYER_MODULES, f"{name}: no original name for {m[2]}"
            out[f"vision_model.encoder.layers.{m[1]}.{LAYER_MODULES[m[2]]}.{m[3]}"] = tensor
        else:
            raise SystemExit(f"{name}: InternVLChatModel has no such tensor (e.g. use_mean_pooling "
                             "false's vision_tower.layernorm)")
    for (layer, kind), parts in fused.items():
        assert sorted(parts) == ["k", "q", "v"], (layer, kind, sorted(parts))
        out[f"vision_model.encoder.layers.{layer}.attn.qkv.{kind}"] = torch.cat(
            [parts["q"], parts["k"], parts["v"]], dim=0).contiguous()
    return out


def published_conversion(original, vision_hidden):
    """transformers' convert_internvl_weights_to_hf.py on `original` (a Qwen2 LLM: names kept)."""
    converted = {}
    for name, tensor in original.items():
        new = name
        if name.startswith("vision_model"):
            for pattern, replacement in PUBLISHED_VISION_MAPPING:
                new = re.sub(pattern, replacement, new)
        elif not name.startswith("language_model"):
            for pattern, replacement in PUBLISHED_PROJECTOR_MAPPING:
                new = re.sub(pattern, replacement, new)
        if "attn.qkv" in name:
            converted[new.replace("attention.qkv", "attention.q_proj")] = tensor[:vision_hidden]
            converted[new.replace("attention.qkv", "attention.k_proj")] = tensor[vision_hidden:2 * vision_hidden]
            converted[new.replace("attention.qkv", "attention.v_proj")] = tensor[-vision_hidden:]
        else:
            converted[new] = tensor
    return converted


def square(size):
    if isinstance(size, (list, tuple)):
        assert size[0] == size[1], size
        return size[0]
    return size


def original_config(native, max_dynamic_patch, force_image_size=None):
    """InternVLChatConfig's fields for the "-hf" config `native` (InternVL2.5-1B's config.json
    has these keys); the tiles are force_image_size pixels, by default the tower's image_size."""
    v = native["vision_config"]
    assert native.get("vision_feature_select_strategy", "default") == "default"
    assert v.get("use_mean_pooling", True), "InternVisionModel has no post-norm"
    vision = {
        "architectures": ["InternVisionModel"],
        "model_type": "intern_vit_6b",
        "hidden_size": v["hidden_size"],
        "intermediate_size": v["intermediate_size"],
        "num_attention_heads": v["num_attention_heads"],
        "num_hidden_layers": v["num_hidden_layers"],
        "num_channels": v["num_channels"],
        "image_size": square(v["image_size"]),
        "patch_size": square(v["patch_size"]),
        "hidden_act": v["hidden_act"],
        "norm_type": v["norm_type"],
        "layer_norm_eps": v["layer_norm_eps"],
        "qkv_bias": v["attention_bias"],
        "qk_normalization": v["use_qk_norm"],
        "initializer_factor": v.get("layer_scale_init_value", 0.1),
        "initializer_range": v.get("initializer_range", 0.02),
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "drop_path_rate": 0.0,
        "use_flash_attn": False,
        "torch_dtype": "float32",
    }
    llm = dict(native["text_config"])
    # Written by transformers 4.37 as OpenGVLab's are: rope_theta, no rope_parameters.
    rope = llm.pop("rope_parameters", None)
    if rope is not None:
        assert rope.get("rope_type", "default") == "default", rope
        llm["rope_theta"] = rope["rope_theta"]
    llm.pop("layer_types", None)
    llm.pop("dtype", None)
    llm["torch_dtype"] = "float32"
    llm["architectures"] = ["Qwen2ForCausalLM"]
    return {
        "architectures": ["InternVLChatModel"],
        "model_type": "internvl_chat",
        "vision_config": vision,
        "llm_config": llm,
        "select_layer": native.get("vision_feature_layer", -1),
        "force_image_size": force_image_size or square(v["image_size"]),
        "downsample_ratio": native.get("downsample_ratio", 0.5),
        "ps_version": "v2",
        "template": "internvl2_5",
        "dynamic_image_size": True,
        "use_thumbnail": True,
        "min_dynamic_patch": 1,
        "max_dynamic_patch": max_dynamic_patch,
        "use_backbone_lora": 0,
        "use_llm_lora": 0,
        "torch_dtype": "float32",
    }


def write_original(model_dir, out, max_dynamic_patch, force_image_size=None):
    native = safetensors.torch.load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text())
    original = to_original(native)
    back = published_conversion(original, config["vision_config"]["hidden_size"])
    assert sorted(back) == sorted(native), sorted(set(back) ^ set(native))
    for name, tensor in native.items():
        assert torch.equal(back[name], tensor), name
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(original, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(
        json.dumps(original_config(config, max_dynamic_patch, force_image_size), indent=2, sort_keys=True) + "\n")
    return original


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO_ROOT / "tests" / "fixtures" / "internvl" / "model"))
    ap.add_argument("--out", default=str(REPO_ROOT / "tests" / "fixtures" / "internvl_original"))
    args = ap.parse_args(argv)
    model_dir, out = Path(args.model), Path(args.out)
    processor = json.loads((model_dir / "processor_config.json").read_text())["image_processor"]
    if out.exists():
        shutil.rmtree(out)
    original = write_original(model_dir, out, processor["max_patches"])
    # The tokenizer as OpenGVLab's checkpoints ship it beside the model (the same Qwen2 tokenizer
    # with <img>, </img>, <IMG_CONTEXT>); no chat template: their chat() uses config.json's
    # "template" (internvl2_5), not a Jinja one.
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(model_dir / name, out / name)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({len(original)} tensors, {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
