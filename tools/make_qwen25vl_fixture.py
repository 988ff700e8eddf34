#!/usr/bin/env python3
"""Build the tiny random-weight Qwen2.5-VL reference fixture for lightvlm's C++ tests (issue 17).

Writes <out>/qwen25vl/ (default tests/fixtures/qwen25vl):
  model/               Qwen2_5_VLForConditionalGeneration + Qwen2_5_VLProcessor as transformers 5.x's
                       save_pretrained writes them (model.visual.*, model.language_model.*)
  golden.safetensors   per case: pixel values, grid, prompt ids, get_rope_index's position ids and
                       rope delta, vision features, logits of every prompt token, 16 greedy tokens
  golden.json          cases, prompts, shapes, calls, versions, greedy tokens

The vision tower has 3 layers, layer 1 with full attention and 0 and 2 in windows of 56 pixels
(2x2 merged tokens), so every image below spans several windows, some clipped. The images are
qwen2vl/'s (wide, tall, small; the pair is llava/image.png, the decoded JPEG, and tall).

Usage:
    /work/main/.venv5/bin/python tools/make_qwen25vl_fixture.py [--out tests/fixtures]

Needs transformers 5.x (tools/requirements-tf5.txt). Qwen2_5_VLProcessor needs torchvision (for its
video processor), which the pinned environment lacks, so its steps are done here as it does them: the
PIL image processor, the chat template, each <|image_pad|> expanded to t*h*w/4 copies, and
mm_token_type_ids 1 on image tokens.
Deterministic (fixed seeds, private generators, one thread); see tools/README.md.
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
import posixpath  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration  # noqa: E402
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil  # noqa: E402

from make_chat_template_fixtures import QWEN2_VL as QWEN2_VL_CHAT_TEMPLATE  # noqa: E402

torch.set_num_threads(1)

SEED = 5013


def build_model(tok):
    config = Qwen2_5_VLConfig(
        text_config={"vocab_size": mf.QWEN2_MODEL_VOCAB, "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "rms_norm_eps": 1e-6, "max_position_embeddings": 512,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]}},
        vision_config={"depth": 3, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2,
                       "out_hidden_size": 64, "window_size": 56, "fullatt_block_indexes": [1],
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_channels": 3,
                       "hidden_act": "silu"},
        tie_word_embeddings=False, **mf.qwen_vl_token_config(tok))
    return mf.make_model(Qwen2_5_VLForConditionalGeneration, config, SEED)


def process(tok, image_processor, text, images):
    """Qwen2_5_VLProcessor.__call__ for images and text (return_mm_token_type_ids=True)."""
    pixels = image_processor(images=images, return_tensors="pt")
    merge = image_processor.merge_size ** 2
    parts = text.split("<|image_pad|>")
    assert len(parts) == len(images) + 1
    expanded = parts[0]
    for grid, part in zip(pixels["image_grid_thw"], parts[1:]):
        expanded += "<|image_pad|>" * (int(grid.prod()) // merge) + part
    ids = tok(expanded, return_tensors="pt")["input_ids"]
    image_id = tok.convert_tokens_to_ids("<|image_pad|>")
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "mm_token_type_ids": (ids == image_id).to(torch.int32),
            "pixel_values": pixels["pixel_values"], "image_grid_thw": pixels["image_grid_thw"]}


def forward_logits(model, inputs):
    """A full forward: transformers 5.x computes get_rope_index's positions from mm_token_type_ids."""
    with torch.no_grad():
        return model(**inputs).logits[0]


def append_generated(step, token):
    """The inputs with a generated token appended, typed as text."""
    step = dict(step)
    for key, value in (("input_ids", token), ("mm_token_type_ids", torch.zeros(1, 1)),
                       ("attention_mask", torch.ones(1, 1))):
        step[key] = torch.cat([step[key], value.to(step[key].dtype)], dim=1)
    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "fixtures"))
    args = ap.parse_args(argv)
    fdir = mf.fresh_dir(Path(args.out) / "qwen25vl")
    fixtures = mf.REPO_ROOT / "tests" / "fixtures"

    tok = mf.build_qwen2_vl_tokenizer()
    tok.chat_template = QWEN2_VL_CHAT_TEMPLATE
    model = build_model(tok)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=mf.QWEN_VL_MIN_PIXELS,
                                               max_pixels=mf.QWEN_VL_MAX_PIXELS)
    model.save_pretrained(fdir / "model")
    tok.save_pretrained(fdir / "model")
    image_processor.save_pretrained(fdir / "model")

    def load(name):
        return Image.open(fixtures / name).convert("RGB")
    # The images of qwen2vl/'s cases, named relative to the fixtures directory.
    cases = {name: [posixpath.normpath(f"qwen2vl/{f}") for f in files] for name, files in mf.QWEN_VL_CASES.items()}

    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    tensors, desc, case_info, greedy_info = {}, {}, {}, {}
    for name, files in cases.items():
        pil = [load(f) for f in files]
        text = mf.qwen_vl_prompt(tok, len(pil))
        inputs = process(tok, image_processor, text, pil)
        ids, grid = inputs["input_ids"], inputs["image_grid_thw"]
        with torch.no_grad():
            pos, delta = model.model.get_rope_index(ids, inputs["mm_token_type_ids"], image_grid_thw=grid,
                                                    attention_mask=inputs["attention_mask"])
            feats = model.model.visual(inputs["pixel_values"], grid_thw=grid).pooler_output
        logits = forward_logits(model, inputs)
        toks, margin = mf.check_greedy_steps(model, dict(inputs), pad_id, dict(inputs),
                                             lambda step: forward_logits(model, step)[-1], append_generated)
        tensors.update({f"{name}.pixel_values": inputs["pixel_values"].float(),
                        f"{name}.image_grid_thw": grid.long(), f"{name}.input_ids": ids[0].long(),
                        f"{name}.position_ids": pos[:, 0, :].long().contiguous(),
                        f"{name}.rope_delta": delta.reshape(1).long(),
                        f"{name}.vision_features": feats.float(), f"{name}.logits": logits.float(),
                        f"{name}.greedy_tokens": torch.tensor(toks, dtype=torch.int64)})
        desc.update({
            f"{name}.pixel_values": "processor(text, images).pixel_values: [sum of t*h*w, 1176]",
            f"{name}.image_grid_thw": "image_grid_thw: [n_images, 3] (t, h, w) in 14-px patches",
            f"{name}.input_ids": "input_ids[0], each <|image_pad|> expanded to t*h*w/4 copies",
            f"{name}.position_ids": "model.model.get_rope_index(input_ids, mm_token_type_ids, image_grid_thw, "
                                    "attention_mask)[0][:, 0, :]: [3 (temporal, height, width), n_tokens]",
            f"{name}.rope_delta": "get_rope_index(...)[1]: decoding continues at n_tokens + delta",
            f"{name}.vision_features": "model.model.visual(pixel_values, grid_thw).pooler_output: the merger's "
                                       "output in the processor's order, [sum of t*h*w/4, 64]",
            f"{name}.logits": "model(**processor outputs).logits[0]: [n_tokens, 1024]",
            f"{name}.greedy_tokens": "16 greedy tokens: " + mf.GENERATE_CALL})
        case_info[name] = mf.qwen_vl_case(files, pil, text, ids, grid, delta)
        greedy_info[name] = {"tokens": toks, "min_top1_top2_logit_margin": margin}

    # Reloading the saved directory gives the same logits.
    model2 = Qwen2_5_VLForConditionalGeneration.from_pretrained(fdir / "model", attn_implementation=mf.ATTN_IMPL,
                                                                dtype=torch.float32).eval()
    inputs = process(tok, image_processor, mf.qwen_vl_prompt(tok, 2), [load(f) for f in cases["pair"]])
    assert torch.equal(forward_logits(model2, inputs), tensors["pair.logits"])

    mf.write_qwen_vl_golden(
        fdir, tensors, desc, tok, "tiny random Qwen2.5-VL (issue 17): window attention, M-RoPE, vision features, "
        "logits", SEED, {"class": "Qwen2VLImageProcessorPil", "min_pixels": mf.QWEN_VL_MIN_PIXELS,
                         "max_pixels": mf.QWEN_VL_MAX_PIXELS}, case_info, greedy_info)


if __name__ == "__main__":
    main()
