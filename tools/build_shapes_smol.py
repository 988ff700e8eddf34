#!/usr/bin/env python3
"""Rebuild models/shapes_smol/model/ (the full SmolVLM checkpoint) from its committed parts and the
real SmolLM2-135M-Instruct GGUF, with numpy and gguf-py only (no torch).

The committed part (<parts>/) holds what training changed or added: the vision tower and connector
(parts.safetensors), the embedding rows of the added tokens (<image>, <fake_token_around_image>,
<global-img>, <end_of_utterance>) and the LoRA factors of every linear layer of the language model
(lora.safetensors), plus config, tokenizer and processor files. The language model's own weights are
the GGUF's, dequantized by gguf-py (Q4_1 -> float32) with llama.cpp's rotary row order of q and k
undone; each LoRA pair is merged as W + scale * B @ A in float32. The result is what
tools/train_shapes_smol.py evaluated with transformers.

Usage (scripts/get_models.sh runs it):
    python tools/build_shapes_smol.py --gguf models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --parts models/shapes_smol/parts --out models/shapes_smol/model
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file, save_file

TEXT = "model.text_model."
# GGUF tensor name (after "blk.N.") -> transformers' name (after "model.text_model.layers.N.")
LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
GLOBAL_NAMES = {"token_embd.weight": "embed_tokens.weight", "output_norm.weight": "norm.weight"}


def unpermute_rotary(w, heads):
    """llama.cpp's converter interleaves each head's two rotary halves; transformers keeps them apart."""
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_text_weights(gguf_path, heads, kv_heads):
    """{transformers name: float32 array} of the GGUF's language model."""
    out = {}
    for t in GGUFReader(str(gguf_path)).tensors:
        w = np.ascontiguousarray(dequantize(t.data, t.tensor_type).astype(np.float32))
        if t.name in GLOBAL_NAMES:
            out[TEXT + GLOBAL_NAMES[t.name]] = w
            continue
        _, layer, rest = t.name.split(".", 2)
        if rest == "attn_q.weight":
            w = unpermute_rotary(w, heads)
        elif rest == "attn_k.weight":
            w = unpermute_rotary(w, kv_heads)
        out[f"{TEXT}layers.{layer}.{LAYER_NAMES[rest]}"] = w
    return out


def merge(weights, parts_dir, text_config):
    """The full state dict: GGUF weights + added embedding rows + merged LoRA + vision and connector."""
    added = load_file(str(parts_dir / "added_embeddings.safetensors"))["added_rows"].astype(np.float32)
    embed = weights[TEXT + "embed_tokens.weight"]
    vocab = text_config["vocab_size"]
    if embed.shape[0] + added.shape[0] != vocab:
        sys.exit(f"build_shapes_smol: GGUF has {embed.shape[0]} rows + {added.shape[0]} added != "
                 f"vocab_size {vocab} in config.json")
    weights[TEXT + "embed_tokens.weight"] = np.concatenate([embed, added])
    lora_path = parts_dir / "lora.safetensors"
    lora = load_file(str(lora_path))
    meta = json.loads((parts_dir / "lora.json").read_text(encoding="utf-8"))
    scale = float(meta["scale"])
    for name in sorted(k[: -len(".lora_A")] for k in lora if k.endswith(".lora_A")):
        a = lora[name + ".lora_A"].astype(np.float32)
        b = lora[name + ".lora_B"].astype(np.float32)
        key = name + ".weight"
        if key not in weights:
            sys.exit(f"build_shapes_smol: {lora_path}: {name} names no weight of the language model")
        weights[key] = (weights[key] + np.float32(scale) * (b @ a)).astype(np.float32)
    weights.update({k: v.astype(np.float32) for k, v in load_file(str(parts_dir / "parts.safetensors")).items()})
    return weights


def build(gguf_path, parts_dir, out_dir):
    parts_dir, out_dir = Path(parts_dir), Path(out_dir)
    config = json.loads((parts_dir / "config.json").read_text(encoding="utf-8"))
    text = config["text_config"]
    weights = gguf_text_weights(gguf_path, text["num_attention_heads"], text["num_key_value_heads"])
    weights = merge(weights, parts_dir, text)
    tmp = out_dir.with_name(out_dir.name + ".part")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    skip = {"parts.safetensors", "added_embeddings.safetensors", "lora.safetensors", "lora.json"}
    for f in parts_dir.iterdir():
        if f.is_file() and f.name not in skip:
            shutil.copyfile(f, tmp / f.name)
    save_file({k: np.ascontiguousarray(v) for k, v in sorted(weights.items())}, str(tmp / "model.safetensors"),
              metadata={"format": "pt"})
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--parts", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    print(f"build_shapes_smol: wrote {build(args.gguf, args.parts, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
