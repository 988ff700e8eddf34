#!/usr/bin/env python3
"""Build tiny random-weight reference models and golden outputs for lightvlm's C++ tests.

For each model family (llama, qwen2, llava) this script

  1. builds a tokenizer with the `tokenizers` library (trained on a small built-in English text),
  2. builds a tiny model with the real transformers classes and deterministic random weights,
  3. saves both with save_pretrained (real file layout, real tensor names) under <out>/<family>/model/,
  4. runs a fixed prompt (and, for llava, a fixed image) through the real tokenizer/processor and
     model, and writes <out>/<family>/golden.safetensors + golden.json + tokenizer_cases.json,
  5. checks itself: generate() == a manual greedy argmax loop, reloading the saved directory with
     from_pretrained gives identical logits/ids/pixels, the greedy tokens are not degenerate.

Usage:
    .venv/bin/python tools/make_fixtures.py --out tests/fixtures [--family llama qwen2 llava]

Everything runs on the CPU in a few seconds, single-threaded, and is deterministic: running it twice
gives byte-identical files (check with `diff -r` against a second run). See tools/README.md.
"""

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
from fixture_common import (
    ATTN_IMPL,
    BIAS_STD,
    FAMILIES,
    GENERATE_CALL,
    IMAGES_DIR,
    LLAMA_VOCAB_SIZE,
    LLAVA_CHAT_TEMPLATE,
    LLAVA_IMAGE,
    LLAVA_IMAGE_SHA256,
    LOGITS_ALL_MAX_TOKENS,
    NORM_STD,
    NUM_NEW_TOKENS,
    QWEN2_MODEL_VOCAB,
    QWEN2_SPECIALS,
    SEEDS,
    WEIGHT_STD,
    build_llama_tokenizer,
    build_qwen2_tokenizer,
    check_greedy,
    checkpoint_layout,
    dir_size,
    fresh_dir,
    llama_text_config,
    make_model,
    reload_check_text,
    tokenizer_cases,
    versions,
    wrap_llama_tokenizer,
    write_golden,
    write_json,
)
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tokenizers import AddedToken  # noqa: E402
from transformers import (  # noqa: E402
    AutoProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    Qwen2Config,
    Qwen2ForCausalLM,
)


# --------------------------------------------------------------------------------------------
# Families

def text_family(out, family, sub, model, tokenizer, prompt_text, prompt_info, pad_token_id, seed, notes):
    """Shared part of llama/qwen2: save, run, check, write goldens. Returns the directory."""
    fdir = fresh_dir(out / family / sub) if sub else fresh_dir(out / family)
    model_dir = fdir / "model"
    model.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))

    inputs = tokenizer(prompt_text, return_tensors="pt")
    input_ids = inputs.input_ids
    with torch.no_grad():
        logits = model(**inputs).logits[0]
    gen, margin = check_greedy(model, dict(inputs), pad_token_id, {})
    tok2 = reload_check_text(type(model), model_dir, logits, prompt_text, input_ids)
    if not sub:
        write_json(fdir / "tokenizer_cases.json", tokenizer_cases(tok2, family))

    seq = input_ids.shape[1]
    tensors = {
        "input_ids": input_ids[0].to(torch.int64),
        "logits_last": logits[-1].float(),
        "greedy_tokens": torch.tensor(gen, dtype=torch.int64),
    }
    descriptions = {
        "input_ids": "prompt token ids from tokenizer(prompt_text) (special tokens as the tokenizer adds them)",
        "logits_last": "float32 logits at the last prompt position, length = config vocab_size",
        "greedy_tokens": f"{NUM_NEW_TOKENS} new tokens of greedy (argmax) decoding, EOS disabled",
    }
    if seq <= LOGITS_ALL_MAX_TOKENS:
        tensors["logits_all"] = logits.float()
        descriptions["logits_all"] = "float32 logits at every prompt position [seq, vocab_size]"

    cfg = model.config
    info = {
        "family": family if not sub else f"{family}/{sub}",
        "generator": "tools/make_fixtures.py",
        "versions": versions(),
        "seed": seed,
        "model_dir": "model",
        "model_class": type(model).__name__,
        "attn_implementation": ATTN_IMPL,
        "config": {k: getattr(cfg, k) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rope_theta", "rope_scaling", "rms_norm_eps", "tie_word_embeddings",
            "max_position_embeddings")},
        "tokenizer_size": len(tok2),
        "prompt": dict(prompt_info, text=prompt_text, num_tokens=seq),
        "calls": {
            "tokenize": "tokenizer = AutoTokenizer.from_pretrained(model_dir); "
                        "inputs = tokenizer(prompt_text, return_tensors='pt')",
            "forward": "model = %s.from_pretrained(model_dir, attn_implementation='eager', "
                       "torch_dtype=torch.float32).eval(); logits = model(**inputs).logits[0]" % type(model).__name__,
            "generate": GENERATE_CALL.replace("PAD", str(pad_token_id)),
        },
        "greedy": {"tokens": gen, "text": tok2.decode(gen, skip_special_tokens=False),
                   "min_top1_top2_logit_margin": margin, "equals_manual_argmax_loop": True},
        "tolerance": {"logits_max_abs_error": 1e-3},
        "weights_init": f"every parameter redrawn in sorted-name order from torch.Generator().manual_seed({seed}): "
                        f"matrices N(0,{WEIGHT_STD}), norm weights 1+N(0,{NORM_STD}), biases N(0,{BIAS_STD})",
        "notes": notes,
        "checkpoint_tensors": checkpoint_layout(model_dir),
    }
    write_golden(fdir, tensors, descriptions, info)
    return fdir


def make_llama(out):
    tokenizer = wrap_llama_tokenizer(build_llama_tokenizer())
    prompt = "Once upon a time, there was a little robot who loved to read books."
    prompt_info = {"kind": "plain text, BOS added by the tokenizer"}

    seed = SEEDS["llama"]
    cfg = llama_text_config(LLAMA_VOCAB_SIZE, num_layers=3)
    model = make_model(LlamaForCausalLM, cfg, seed)
    text_family(out, "llama", None, model, tokenizer, prompt, prompt_info, pad_token_id=0, seed=seed,
                notes=["untied lm_head; GQA 4 query heads / 2 KV heads, head_dim 16; default RoPE"])

    # Variant: Llama-3 style RoPE scaling (all three frequency bands are hit with head_dim 16,
    # theta 500000, original_max_position_embeddings 64), tied embeddings (no lm_head.weight saved).
    seed = SEEDS["llama3"]
    cfg = llama_text_config(LLAMA_VOCAB_SIZE, num_layers=2, rope_theta=500000.0, tie_word_embeddings=True,
                            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
    model = make_model(LlamaForCausalLM, cfg, seed)
    text_family(out, "llama", "llama3", model, tokenizer, prompt, prompt_info, pad_token_id=0, seed=seed,
                notes=["variant: rope_scaling llama3 (factor 8, low 1, high 4, original max pos 64), "
                       "rope_theta 500000, tie_word_embeddings=True so the checkpoint has no lm_head.weight",
                       "same tokenizer as ../model"])


def make_qwen2(out):
    tokenizer = build_qwen2_tokenizer()
    messages = [{"role": "user", "content": "What is 2+3?"}]  # 30 tokens with the template
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_info = {"kind": "chat template (ChatML) rendered with "
                           "tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)",
                   "messages": messages}
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN2_SPECIALS}

    seed = SEEDS["qwen2"]
    cfg = Qwen2Config(
        vocab_size=QWEN2_MODEL_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False,
        sliding_window=None, max_window_layers=2, bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], initializer_range=WEIGHT_STD, torch_dtype="float32")
    model = make_model(Qwen2ForCausalLM, cfg, seed)
    # As Qwen2-Instruct: generation stops on either <|im_end|> or <|endoftext|>.
    model.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"],
                                               eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                                               pad_token_id=ids["<|endoftext|>"], do_sample=False)
    text_family(out, "qwen2", None, model, tokenizer, prompt, prompt_info, pad_token_id=ids["<|endoftext|>"],
                seed=seed,
                notes=[f"q/k/v projections have biases; tokenizer has {len(tokenizer)} tokens "
                       f"(947 BPE + 3 special, ids {ids}), config vocab_size {QWEN2_MODEL_VOCAB} (padded, "
                       "as real Qwen2): logits have 1024 entries",
                       "no BOS: tokenizer(text) adds no special tokens"])




def llava_image_bytes(out):
    """The test photograph, from ../shared/images."""
    for cand in (IMAGES_DIR / LLAVA_IMAGE,):
        if cand.is_file():
            data = cand.read_bytes()
            if hashlib.sha256(data).hexdigest() == LLAVA_IMAGE_SHA256:
                return data
    raise SystemExit(f"{LLAVA_IMAGE} (sha256 {LLAVA_IMAGE_SHA256}) not found in {IMAGES_DIR}")
LLAVA_QUESTION = "What is in the picture?"
LLAVA_TEXT_VOCAB = 1024  # tokenizer: 1000 + <image> (1000) + <pad> (1001)


def make_llava(out):
    image_bytes = llava_image_bytes(out)
    fdir = fresh_dir(out / "llava")
    model_dir = fdir / "model"

    # As llava-hf/llava-1.5-7b-hf: <image> right after the base vocabulary, then <pad>.
    tokenizer = wrap_llama_tokenizer(build_llama_tokenizer(), chat_template=LLAVA_CHAT_TEMPLATE)
    tokenizer.add_tokens([AddedToken("<image>", special=True, normalized=False)], special_tokens=True)
    tokenizer.add_special_tokens({"pad_token": AddedToken("<pad>", special=True, normalized=False)})
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    pad_id = tokenizer.convert_tokens_to_ids("<pad>")
    assert (image_token_id, pad_id) == (1000, 1001), (image_token_id, pad_id)

    image_processor = CLIPImageProcessor(
        do_resize=True, size={"shortest_edge": 336}, resample=3, do_center_crop=True,
        crop_size={"height": 336, "width": 336}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
        do_convert_rgb=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", image_token="<image>",
                               chat_template=LLAVA_CHAT_TEMPLATE)

    seed = SEEDS["llava"]
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, projection_dim=32, num_hidden_layers=3,
                              num_attention_heads=4, num_channels=3, image_size=336, patch_size=14,
                              hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text = llama_text_config(LLAVA_TEXT_VOCAB, num_layers=2, pad_token_id=pad_id,
                             max_position_embeddings=2048)  # room for two images and an answer
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                      projector_hidden_act="gelu", vision_feature_select_strategy="default",
                      vision_feature_layer=-2, image_seq_length=576, tie_word_embeddings=False,
                      pad_token_id=pad_id)
    model = make_model(LlavaForConditionalGeneration, cfg, seed)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=pad_id)
    model.save_pretrained(str(model_dir), safe_serialization=True)
    processor.save_pretrained(str(model_dir))

    # Stored as PNG, so that this fixture depends on no JPEG decoder (when it was made, the engine's
    # differed from PIL's by a few units per pixel; tools/make_jpeg_fixtures.py now covers JPEG).
    Image.open(io.BytesIO(image_bytes)).convert("RGB").save(fdir / "image.png", optimize=True)
    image = Image.open(fdir / "image.png")
    image.load()
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": LLAVA_QUESTION}]}]
    prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
    assert prompt == f"USER: <image>\n{LLAVA_QUESTION} ASSISTANT:", repr(prompt)
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    input_ids, pixel_values = inputs["input_ids"], inputs["pixel_values"]
    n_image = int((input_ids == image_token_id).sum())
    expanded = n_image == 576
    assert n_image in (1, 576)
    unexpanded_ids = tokenizer(prompt, return_tensors="pt").input_ids

    with torch.no_grad():
        vis_out = model.vision_tower(pixel_values, output_hidden_states=True)
        vision_hidden = vis_out.hidden_states[cfg.vision_feature_layer][0]  # [577, 32], CLS first
        image_features = model.get_image_features(pixel_values, cfg.vision_feature_layer,
                                                  cfg.vision_feature_select_strategy)[0]  # [576, 64]
        manual_features = model.multi_modal_projector(vision_hidden[1:].unsqueeze(0))[0]
        assert torch.equal(manual_features, image_features)
        logits = model(**inputs).logits[0]
    assert logits.shape[0] == input_ids.shape[1]
    gen, margin = check_greedy(model, dict(inputs), pad_id, {"pixel_values": pixel_values})

    # Reload everything from disk and compare.
    proc2 = AutoProcessor.from_pretrained(str(model_dir))
    inputs2 = proc2(images=Image.open(fdir / "image.png"), text=prompt, return_tensors="pt")
    assert torch.equal(inputs2["input_ids"], input_ids) and torch.equal(inputs2["pixel_values"], pixel_values)
    m2 = LlavaForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation=ATTN_IMPL,
                                                       torch_dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(m2(**inputs2).logits[0], logits), "reloaded llava gives different logits"
    write_json(fdir / "tokenizer_cases.json", tokenizer_cases(proc2.tokenizer, "llava"))

    pos = (input_ids[0] == image_token_id).nonzero().flatten().tolist()
    w, h = image.size
    short = 336
    rw, rh = (int(short * w / h), short) if w >= h else (short, int(short * h / w))
    tensors = {
        "input_ids": input_ids[0].to(torch.int64),
        "pixel_values": pixel_values.float(),
        "vision_hidden_state": vision_hidden.float(),
        "image_features": image_features.float(),
        "logits_last": logits[-1].float(),
        "greedy_tokens": torch.tensor(gen, dtype=torch.int64),
    }
    descriptions = {
        "input_ids": "processor(images=image, text=prompt).input_ids[0]: BOS + prompt with <image> expanded to "
                     "576 copies of image_token_index by the processor" if expanded else
                     "processor(images=image, text=prompt).input_ids[0] (one <image> token, model expands)",
        "pixel_values": "processor output [1, 3, 336, 336]: resize shortest edge to 336 with PIL bicubic "
                        "(on uint8), center crop 336, x/255, (x-mean)/std",
        "vision_hidden_state": "vision_tower(pixel_values, output_hidden_states=True).hidden_states[-2][0]: "
                               "output of CLIP encoder layer 2 of 3 (hidden_states[0] is after pre_layrnorm), "
                               "CLS token first [577, 32]",
        "image_features": "model.get_image_features(pixel_values, -2, 'default')[0]: hidden_states[-2] without "
                          "CLS -> multi_modal_projector (linear_1, gelu, linear_2) [576, 64]",
        "logits_last": "float32 logits at the last prompt position, length = text_config vocab_size (1024)",
        "greedy_tokens": f"{NUM_NEW_TOKENS} new tokens of greedy (argmax) decoding, EOS disabled",
    }
    info = {
        "family": "llava",
        "generator": "tools/make_fixtures.py",
        "versions": versions(),
        "seed": seed,
        "model_dir": "model",
        "model_class": "LlavaForConditionalGeneration",
        "attn_implementation": ATTN_IMPL,
        "config": {
            "image_token_index": image_token_id, "pad_token_id": pad_id, "image_seq_length": 576,
            "vision_feature_layer": cfg.vision_feature_layer,
            "vision_feature_select_strategy": cfg.vision_feature_select_strategy,
            "projector_hidden_act": cfg.projector_hidden_act,
            "vision": {k: getattr(cfg.vision_config, k) for k in (
                "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size",
                "patch_size", "hidden_act", "layer_norm_eps")},
            "text": {k: getattr(cfg.text_config, k) for k in (
                "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "rope_theta", "rms_norm_eps", "tie_word_embeddings")},
        },
        "tokenizer_size": len(proc2.tokenizer),
        "image": {
            "file": "image.png", "source": f"../shared/images/{LLAVA_IMAGE} decoded by PIL, saved as PNG",
            "source_sha256": LLAVA_IMAGE_SHA256,
            "original_size_wh": [w, h], "resized_size_wh": [rw, rh],
            "center_crop_box_ltrb": [(rw - 336) // 2, (rh - 336) // 2, (rw - 336) // 2 + 336, (rh - 336) // 2 + 336],
            "resample": "PIL.Image.BICUBIC (3), applied by PIL on the uint8 image (antialiased when downscaling)",
        },
        "prompt": {
            "conversation": conversation,
            "text": prompt,
            "rendered_with": "processor.apply_chat_template(conversation, add_generation_prompt=True)",
            "num_tokens": input_ids.shape[1],
            "processor_expanded_image_token": expanded,
            "num_image_tokens_in_input_ids": n_image,
            "image_token_positions": [pos[0], pos[-1] + 1] if pos else None,
            "unexpanded_input_ids": unexpanded_ids[0].tolist(),
        },
        "calls": {
            "process": "processor = AutoProcessor.from_pretrained(model_dir); "
                       "inputs = processor(images=Image.open('image.png'), text=prompt, return_tensors='pt')",
            "forward": "model = LlavaForConditionalGeneration.from_pretrained(model_dir, attn_implementation='eager', "
                       "torch_dtype=torch.float32).eval(); logits = model(**inputs).logits[0]",
            "generate": GENERATE_CALL.replace("PAD", str(pad_id)),
        },
        "greedy": {"tokens": gen, "text": proc2.tokenizer.decode(gen, skip_special_tokens=False),
                   "min_top1_top2_logit_margin": margin, "equals_manual_argmax_loop": True},
        "tolerance": {"logits_max_abs_error": 1e-3},
        "weights_init": f"every parameter redrawn in sorted-name order from torch.Generator().manual_seed({seed}): "
                        f"matrices N(0,{WEIGHT_STD}), norm weights 1+N(0,{NORM_STD}), biases and class_embedding "
                        f"N(0,{BIAS_STD})",
        "notes": [
            "checkpoint written by transformers 4.46 uses the older tensor names: language_model.model.*, "
            "language_model.lm_head.weight, vision_tower.vision_model.*, multi_modal_projector.*",
            "the last CLIP encoder layer and post_layernorm are saved but unused (vision_feature_layer -2)",
            f"tokenizer has {len(proc2.tokenizer)} tokens (llama tokenizer + <pad> + <image>); text vocab_size "
            f"{LLAVA_TEXT_VOCAB} (padded)",
            "chat template saved both as model/chat_template.json (processor) and in tokenizer_config.json",
        ],
        "checkpoint_tensors": checkpoint_layout(model_dir),
    }
    write_golden(fdir, tensors, descriptions, info)
    return fdir



def summarize(out, family):
    fdir = out / family
    print(f"== {family}: {fdir} ({dir_size(fdir) / 1e6:.2f} MB)")
    for p in sorted(fdir.rglob("*")):
        if p.is_file():
            print(f"   {p.relative_to(fdir)}  {p.stat().st_size} B")
    for g in sorted(fdir.rglob("golden.json")):
        info = json.loads(g.read_text(encoding="utf-8"))
        shapes = {k: v["shape"] for k, v in info["tensors"].items()}
        print(f"   {g.parent.relative_to(out)}: tensors {shapes}")
        print(f"      greedy {info['greedy']['tokens']} margin {info['greedy']['min_top1_top2_logit_margin']:.4f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output root, normally tests/fixtures")
    ap.add_argument("--family", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    args = ap.parse_args(argv)
    makers = {"llama": make_llama, "qwen2": make_qwen2, "llava": make_llava}
    for family in args.family:
        makers[family](args.out)
        size = dir_size(args.out / family)
        assert size < 3_500_000, f"{family} fixtures are {size} bytes (> 3.5 MB)"
        summarize(args.out, family)
    return 0


if __name__ == "__main__":
    sys.exit(main())
