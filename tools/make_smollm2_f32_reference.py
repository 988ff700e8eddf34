"""Float32 reference for lightvlm's GGUF loader: SmolLM2-135M-Instruct's Q4_1 GGUF dequantized
by gguf-py (gguf.quants), the converter's attn_q/attn_k row order undone, loaded into
transformers' own LlamaForCausalLM in float32 and run greedily on the prompts of
tests/fixtures/smollm2/llama_cpp_reference.json (the same prompt ids). lightvlm dequantizes the
same weights to float32, so it must agree with this to float32 rounding, where llama.cpp (8-bit
activations, f16 KV cache) only agrees up to near ties.

Writes tests/fixtures/smollm2/transformers_f32_reference.json: per prompt the greedy ids, the
top-1/top-2 margin at each step, and the logits of the prompt's last position at a few ids.
Usage: .venv/bin/python tools/make_smollm2_f32_reference.py  (needs scripts/get_models.sh first)
"""
import json
import pathlib
import re

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
FIXTURES = ROOT / "tests/fixtures/smollm2"
STEPS = 20
LAYER_NAMES = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def field(reader, key):
    value = reader.fields[key]
    return value.parts[value.data[0]][0].item()


def undo_rope_rows(weight, heads):
    # Row 2 * i + s of each head in the file is Hugging Face's row s * head_dim / 2 + i.
    return weight.reshape(heads, weight.shape[0] // heads // 2, 2, -1).swapaxes(1, 2).reshape(
        weight.shape)


def load_model(reader):
    arch = "llama"
    heads = field(reader, f"{arch}.attention.head_count")
    kv_heads = field(reader, f"{arch}.attention.head_count_kv")
    config = LlamaConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data),
        hidden_size=field(reader, f"{arch}.embedding_length"),
        intermediate_size=field(reader, f"{arch}.feed_forward_length"),
        num_hidden_layers=field(reader, f"{arch}.block_count"),
        num_attention_heads=heads, num_key_value_heads=kv_heads,
        rms_norm_eps=field(reader, f"{arch}.attention.layer_norm_rms_epsilon"),
        rope_theta=field(reader, f"{arch}.rope.freq_base"),
        max_position_embeddings=field(reader, f"{arch}.context_length"),
        tie_word_embeddings=True)
    state = {}
    for tensor in reader.tensors:
        shape = [int(d) for d in reversed(tensor.shape)]
        weight = dequantize(tensor.data, tensor.tensor_type).reshape(shape).astype(np.float32)
        layer = re.fullmatch(r"blk\.(\d+)\.(\w+)\.weight", tensor.name)
        if layer:
            kind = layer[2]
            if kind == "attn_q":
                weight = undo_rope_rows(weight, heads)
            elif kind == "attn_k":
                weight = undo_rope_rows(weight, kv_heads)
            name = f"model.layers.{layer[1]}.{LAYER_NAMES[kind]}.weight"
        else:
            name = {"token_embd.weight": "model.embed_tokens.weight",
                    "output_norm.weight": "model.norm.weight"}[tensor.name]
        state[name] = torch.from_numpy(np.ascontiguousarray(weight))
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model = LlamaForCausalLM(config).float().eval()
    model.load_state_dict(state, strict=True)
    return model


def main():
    torch.set_num_threads(1)  # two threads spin-waited for minutes on a shared machine
    model = load_model(GGUFReader(MODEL))
    prompts = json.loads((FIXTURES / "llama_cpp_reference.json").read_text())["prompts"]
    records = []
    for prompt in prompts:
        ids = list(prompt["prompt_ids"])
        greedy, margins, last_logits = [], [], None
        with torch.no_grad():
            for step in range(STEPS):
                logits = model(torch.tensor([ids])).logits[0, -1].double()
                if step == 0:
                    last_logits = logits
                top = torch.topk(logits, 2)
                greedy.append(int(top.indices[0]))
                margins.append(round(float(top.values[0] - top.values[1]), 5))
                ids.append(greedy[-1])
        probe = sorted({0, 1, 100, 1000, 20000, 49151, greedy[0]})
        records.append({"text": prompt["text"], "prompt_ids": prompt["prompt_ids"],
                        "greedy_ids": greedy, "top2_margins": margins,
                        "last_logits": {str(i): round(float(last_logits[i]), 5) for i in probe}})
    out = FIXTURES / "transformers_f32_reference.json"
    out.write_text(json.dumps({"generator": "tools/make_smollm2_f32_reference.py",
                               "model": MODEL.name, "prompts": records}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
