#!/usr/bin/env python3
"""Golden fixture for InternLM2 checkpoints (issue 14): a tiny random Llama in InternLM2's layout.

No package on PyPI ships InternLM2's modeling code (it lives in the checkpoints' own repositories,
loaded with trust_remote_code), so this fixture checks LOADING, not InternLM2's modeling: it builds
a tiny random-weight model with transformers' real LlamaForCausalLM, records its logits and greedy
tokens, and writes its weights under InternLM2's tensor names with q/k/v fused into `wqkv` in
InternLM2's grouped row order, beside a config.json with InternLM2Config's fields. The C++ engine
must reproduce the Llama's outputs from that checkpoint, which holds only if the name table, the
split of the fused tensor and the config reading are right. That InternLM2's block is Llama's
block (RMSNorm, rotate-half RoPE, grouped-query attention, SiLU-gated MLP) is read from its public
modeling code, not run here.

The fused layout, as InternLM2Attention reads it: wqkv's output rows are
[num_kv_heads, num_heads / num_kv_heads + 2, head_dim]: for each KV group, its query heads, then
its key head, then its value head. The script checks that reading its wqkv that way gives back the
Llama's q/k/v projections before it writes anything.

Writes tests/fixtures/internlm2/ (or --out):

  model/config.json         InternLM2Config fields (model_type internlm2, bias true, rope_scaling
                            {"type": "dynamic", "factor": 2.0}, GQA 4 heads / 2 KV heads)
  model/model.safetensors   model.tok_embeddings, model.layers.N.{attention_norm, attention.wqkv
                            (+ bias), attention.wo (+ bias), ffn_norm, feed_forward.w1/w2/w3},
                            model.norm, output (untied)
  golden.safetensors        input_ids, logits_all [n, vocab], greedy_tokens
  golden.json               versions, seed, configs, how each tensor was computed

The Llama uses rope_scaling {"rope_type": "dynamic", "factor": 2.0}: within max_position_embeddings
transformers' dynamic NTK RoPE is plain RoPE, as InternLM2's is, so the golden is computed by
transformers' own dynamic implementation on a sequence inside the context.

Usage (the transformers 4.x venv, tools/requirements.txt):
    .venv/bin/python tools/make_internlm2_fixture.py [--out tests/fixtures/internlm2]

Single-threaded on the CPU, a few seconds, deterministic.
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import safetensors.torch  # noqa: E402
import torch  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402


torch.set_num_threads(1)

SEED = 5001
VOCAB_SIZE = 128
NUM_LAYERS = 2
HIDDEN = 32
HEADS = 4
KV_HEADS = 2  # GQA: two query heads per KV group, so the grouped row order matters
INTERMEDIATE = 64
MAX_POSITIONS = 64
ROPE_THETA = 10000.0
ROPE_FACTOR = 2.0
PROMPT_LENGTH = 12


def llama_model():
    config = mf.llama_text_config(
        VOCAB_SIZE, NUM_LAYERS, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POSITIONS,
        rope_theta=ROPE_THETA, rope_scaling={"rope_type": "dynamic", "factor": ROPE_FACTOR},
        attention_bias=True)
    return mf.make_model(LlamaForCausalLM, config, SEED)


def fuse_qkv(q, k, v, head_dim, heads=HEADS, kv_heads=KV_HEADS):
    """q [heads * d, ...], k and v [kv_heads * d, ...] into InternLM2's grouped wqkv rows."""
    groups = heads // kv_heads
    rows = []
    for g in range(kv_heads):
        rows.append(q[g * groups * head_dim:(g + 1) * groups * head_dim])
        rows.append(k[g * head_dim:(g + 1) * head_dim])
        rows.append(v[g * head_dim:(g + 1) * head_dim])
    return torch.cat(rows, dim=0).contiguous()


def check_fused_reading(attention, wqkv, bias, head_dim):
    """Reads wqkv as InternLM2Attention does (output viewed as [kv_heads, groups + 2, head_dim]:
    the group's query heads, then -2 the key head, -1 the value head) and compares with the Llama's
    own projections of random inputs."""
    x = torch.randn(5, HIDDEN, generator=torch.Generator().manual_seed(SEED + 1))
    groups = HEADS // KV_HEADS
    qkv = (x @ wqkv.T + bias).view(5, KV_HEADS, groups + 2, head_dim)
    q = qkv[:, :, :groups, :].reshape(5, HEADS * head_dim)
    k = qkv[:, :, -2, :].reshape(5, KV_HEADS * head_dim)
    v = qkv[:, :, -1, :].reshape(5, KV_HEADS * head_dim)
    with torch.no_grad():
        assert torch.equal(q, attention.q_proj(x)), "fused q differs"
        assert torch.equal(k, attention.k_proj(x)), "fused k differs"
        assert torch.equal(v, attention.v_proj(x)), "fused v differs"


def internlm2_tensors(model):
    """The Llama's weights under InternLM2's names (InternLM2ForCausalLM's state dict)."""
    head_dim = HIDDEN // HEADS
    out = {"model.tok_embeddings.weight": model.model.embed_tokens.weight,
           "model.norm.weight": model.model.norm.weight,
           "output.weight": model.lm_head.weight}
    for i, layer in enumerate(model.model.layers):
        p = f"model.layers.{i}."
        a = layer.self_attn
        wqkv = fuse_qkv(a.q_proj.weight, a.k_proj.weight, a.v_proj.weight, head_dim)
        wqkv_bias = fuse_qkv(a.q_proj.bias, a.k_proj.bias, a.v_proj.bias, head_dim)
        check_fused_reading(a, wqkv, wqkv_bias, head_dim)
        out.update({
            p + "attention_norm.weight": layer.input_layernorm.weight,
            p + "attention.wqkv.weight": wqkv,
            p + "attention.wqkv.bias": wqkv_bias,
            p + "attention.wo.weight": a.o_proj.weight,
            p + "attention.wo.bias": a.o_proj.bias,
            p + "ffn_norm.weight": layer.post_attention_layernorm.weight,
            p + "feed_forward.w1.weight": layer.mlp.gate_proj.weight,
            p + "feed_forward.w3.weight": layer.mlp.up_proj.weight,
            p + "feed_forward.w2.weight": layer.mlp.down_proj.weight,
        })
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def internlm2_config(llama):
    """config.json as InternLM2Config writes it (trust_remote_code checkpoints carry auto_map)."""
    return {
        "architectures": ["InternLM2ForCausalLM"],
        "auto_map": {"AutoConfig": "configuration_internlm2.InternLM2Config",
                     "AutoModelForCausalLM": "modeling_internlm2.InternLM2ForCausalLM"},
        "model_type": "internlm2",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": NUM_LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "initializer_range": mf.WEIGHT_STD,
        "rms_norm_eps": llama.config.rms_norm_eps,
        "use_cache": True,
        "pad_token_id": 0,
        "bos_token_id": llama.config.bos_token_id,
        "eos_token_id": llama.config.eos_token_id,
        "tie_word_embeddings": False,
        "bias": True,
        "rope_theta": ROPE_THETA,
        "rope_scaling": {"type": "dynamic", "factor": ROPE_FACTOR},
        "attn_implementation": "eager",
        "torch_dtype": "float32",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=mf.REPO_ROOT / "tests" / "fixtures" / "internlm2")
    args = parser.parse_args(argv)

    model = llama_model()
    g = torch.Generator().manual_seed(SEED + 2)
    input_ids = torch.randint(3, VOCAB_SIZE, (1, PROMPT_LENGTH), generator=g)
    input_ids[0, 0] = model.config.bos_token_id
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits[0]
    inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
    greedy, margin = mf.check_greedy(model, inputs, pad_token_id=0, extra={})
    assert PROMPT_LENGTH + mf.NUM_NEW_TOKENS <= MAX_POSITIONS, "the golden must stay inside the context"

    fdir = mf.fresh_dir(args.out)
    model_dir = fdir / "model"
    model_dir.mkdir()
    safetensors.torch.save_file(internlm2_tensors(model), str(model_dir / "model.safetensors"),
                                metadata={"format": "pt"})
    mf.write_json(model_dir / "config.json", internlm2_config(model))

    tensors = {"input_ids": input_ids[0], "logits_all": logits.float(),
               "greedy_tokens": torch.tensor(greedy, dtype=torch.int64)}
    descriptions = {
        "input_ids": f"{PROMPT_LENGTH} prompt token ids: BOS then torch.randint(3, {VOCAB_SIZE}) "
                     f"from torch.Generator().manual_seed({SEED + 2})",
        "logits_all": "float32 logits of the Llama at every prompt position [seq, vocab_size]",
        "greedy_tokens": f"{mf.NUM_NEW_TOKENS} new tokens of greedy (argmax) decoding, EOS disabled",
    }
    info = {
        "family": "internlm2",
        "generator": "tools/make_internlm2_fixture.py",
        "versions": mf.versions(),
        "seed": SEED,
        "model_dir": "model",
        "reference_class": "LlamaForCausalLM (its weights written in InternLM2's layout)",
        "what_this_checks": "loading (tensor names, the grouped wqkv split, InternLM2Config fields), "
                            "not InternLM2's modeling: no PyPI package ships that code",
        "llama_config": {k: getattr(model.config, k) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rope_theta", "rope_scaling", "rms_norm_eps", "attention_bias",
            "tie_word_embeddings", "max_position_embeddings")},
        "calls": {
            "forward": "model(input_ids=input_ids).logits[0] (eager attention, float32)",
            "generate": mf.GENERATE_CALL.replace("PAD", "0"),
        },
        "greedy": {"tokens": greedy, "min_top1_top2_logit_margin": margin, "equals_manual_argmax_loop": True},
        "weights_init": f"every parameter redrawn in sorted-name order from torch.Generator().manual_seed({SEED}): "
                        f"matrices N(0,{mf.WEIGHT_STD}), norm weights 1+N(0,{mf.NORM_STD}), biases N(0,{mf.BIAS_STD})",
        "checkpoint_tensors": mf.checkpoint_layout(model_dir),
    }
    mf.write_golden(fdir, tensors, descriptions, info)
    print(f"wrote {fdir} ({mf.dir_size(fdir) / 1024:.0f} KB); greedy {greedy}, margin {margin:.4f}")


if __name__ == "__main__":
    main()
