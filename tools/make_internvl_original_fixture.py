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


def to_internlm2_llm(original, config):
    """The Qwen2 LLM's tensors under InternLM2's names, as InternVL2.5-2B/8B/26B hold theirs:
    q/k/v fused into attention.wqkv in InternLM2's grouped order, and a zero attention.wo.bias (the
    Qwen2 has none; InternLM2's `bias` gives both or neither). Same numbers, another layout."""
    import make_internlm2_fixture as lm2
    text = config["text_config"]
    heads, kv_heads = text["num_attention_heads"], text["num_key_value_heads"]
    head_dim = text["hidden_size"] // heads
    names = {"input_layernorm": "attention_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.o_proj": "attention.wo", "mlp.gate_proj": "feed_forward.w1",
             "mlp.up_proj": "feed_forward.w3", "mlp.down_proj": "feed_forward.w2"}
    out = {k: v for k, v in original.items() if not k.startswith("language_model.")}
    p = "language_model.model."
    out[p + "tok_embeddings.weight"] = original[p + "embed_tokens.weight"]
    out[p + "norm.weight"] = original[p + "norm.weight"]
    out["language_model.output.weight"] = original["language_model.lm_head.weight"]
    for i in range(text["num_hidden_layers"]):
        layer = f"{p}layers.{i}."
        for kind in ("weight", "bias"):
            q, k, v = (original[f"{layer}self_attn.{x}_proj.{kind}"] for x in "qkv")
            out[f"{layer}attention.wqkv.{kind}"] = lm2.fuse_qkv(q, k, v, head_dim, heads, kv_heads)
        for ours, theirs in names.items():
            out[f"{layer}{theirs}.weight"] = original[f"{layer}{ours}.weight"]
        out[f"{layer}attention.wo.bias"] = torch.zeros(text["hidden_size"])
    return {k: v.contiguous() for k, v in out.items()}


def internlm2_llm_config(llm):
    """llm_config as InternLM2Config writes it, for the Qwen2 `llm` config's sizes."""
    return {"architectures": ["InternLM2ForCausalLM"], "model_type": "internlm2",
            "vocab_size": llm["vocab_size"], "hidden_size": llm["hidden_size"],
            "intermediate_size": llm["intermediate_size"],
            "num_hidden_layers": llm["num_hidden_layers"],
            "num_attention_heads": llm["num_attention_heads"],
            "num_key_value_heads": llm["num_key_value_heads"], "hidden_act": "silu",
            "max_position_embeddings": llm["max_position_embeddings"],
            "rms_norm_eps": llm["rms_norm_eps"], "bias": True, "rope_theta": llm["rope_theta"],
            "rope_scaling": {"type": "dynamic", "factor": 2.0}, "tie_word_embeddings": False,
            "bos_token_id": llm.get("bos_token_id"), "eos_token_id": llm.get("eos_token_id"),
            "torch_dtype": "float32"}


def write_original(model_dir, out, max_dynamic_patch, force_image_size=None, llm="qwen2"):
    native = safetensors.torch.load_file(str(model_dir / "model.safetensors"))
    config = json.loads((model_dir / "config.json").read_text())
    original = to_original(native)
    back = published_conversion(original, config["vision_config"]["hidden_size"])
    assert sorted(back) == sorted(native), sorted(set(back) ^ set(native))
    for name, tensor in native.items():
        assert torch.equal(back[name], tensor), name
    chat_config = original_config(config, max_dynamic_patch, force_image_size)
    if llm == "internlm2":
        original = to_internlm2_llm(original, config)
        chat_config["llm_config"] = internlm2_llm_config(chat_config["llm_config"])
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(original, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(chat_config, indent=2, sort_keys=True) + "\n")
    return original


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(REPO_ROOT / "tests" / "fixtures" / "internvl" / "model"))
    ap.add_argument("--out", default=None, help="default: tests/fixtures/internvl_original[_internlm2]")
    ap.add_argument("--llm", choices=["qwen2", "internlm2"], default="qwen2",
                    help="internlm2: the LLM in InternLM2's layout, as InternVL2.5-2B/8B/26B")
    args = ap.parse_args(argv)
    suffix = "" if args.llm == "qwen2" else "_" + args.llm
    model_dir = Path(args.model)
    out = Path(args.out or REPO_ROOT / "tests" / "fixtures" / f"internvl_original{suffix}")
    processor = json.loads((model_dir / "processor_config.json").read_text())["image_processor"]
    if out.exists():
        shutil.rmtree(out)
    original = write_original(model_dir, out, processor["max_patches"], llm=args.llm)
    # The tokenizer as OpenGVLab's checkpoints ship it beside the model (the same Qwen2 tokenizer
    # with <img>, </img>, <IMG_CONTEXT>); no chat template: their chat() uses config.json's
    # "template" (internvl2_5), not a Jinja one.
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(model_dir / name, out / name)
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out} ({len(original)} tensors, {size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
