#!/usr/bin/env python3
"""Build the tiny random-weight Qwen2-VL reference fixture for lightvlm's C++ tests (issue 17).

Writes <out>/qwen2vl/ (default tests/fixtures/qwen2vl):
  model/               Qwen2VLForConditionalGeneration + Qwen2VLProcessor, save_pretrained layout
  wide.png tall.png small.png   synthetic RGB test images (the JPEG case reuses llava/image.png)
  golden.safetensors   per case: pixel values, grid, expanded prompt ids, get_rope_index's
                       position ids and rope delta; vision features, logits and greedy tokens
  golden.json          cases, prompts, shapes, calls, versions, greedy tokens
  smart_resize.json    smart_resize(h, w) with the real Qwen2-VL-2B defaults, values or errors

Usage:
    /work/main/.venv/bin/python tools/make_qwen2vl_fixture.py [--out tests/fixtures]

Deterministic (fixed seeds, private generators, one thread); see tools/README.md.
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import (Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor,  # noqa: E402
                          Qwen2VLProcessor)
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize  # noqa: E402

from make_chat_template_fixtures import QWEN2_VL as QWEN2_VL_CHAT_TEMPLATE  # noqa: E402

torch.set_num_threads(1)

SEED = 4012  # top-2 margins >= 0.018 and varied tokens (4001: margin 0.0056; 4003: one token repeated)
# The real Qwen2-VL-2B-Instruct preprocessor_config.json values, for smart_resize.json.
REAL_MIN_PIXELS = 56 * 56
REAL_MAX_PIXELS = 28 * 28 * 1280
SMART_RESIZE_SIZES = [  # (height, width)
    (960, 1280), (1280, 960), (100, 3000), (3000, 100), (28, 28), (10, 10), (27, 1000), (4000, 30),
    (30, 4000), (5800, 29), (29, 5600), (70, 126), (126, 70), (42, 42), (56, 56), (387, 512),
    (1080, 1920), (4000, 3000), (10000, 10000), (1, 1), (28, 5600), (28, 5601), (1003, 997)]


def build_model(tok):
    config = Qwen2VLConfig(
        vocab_size=mf.QWEN2_MODEL_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1e6,
        max_position_embeddings=512, tie_word_embeddings=False,
        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},  # head_dim 16: sums to 8
        vision_config={"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                       "in_channels": 3, "hidden_act": "quick_gelu"},
        bos_token_id=None, **mf.qwen_vl_token_config(tok))
    return mf.make_model(Qwen2VLForConditionalGeneration, config, SEED)


def rope_index(model, input_ids, grid):
    finder = model.get_rope_index if hasattr(model, "get_rope_index") else model.model.get_rope_index
    with torch.no_grad():
        pos, delta = finder(input_ids, image_grid_thw=grid, attention_mask=torch.ones_like(input_ids))
    return pos[:, 0, :].contiguous(), delta.reshape(1)


def mrope_forward(model, ids, extra):
    """A full forward with get_rope_index's positions: 4.46's forward() alone would use 1-D positions
    (only generate() computes M-RoPE positions), so every reference forward passes them."""
    pos, _ = model.get_rope_index(ids, extra["image_grid_thw"], None, torch.ones_like(ids))
    return model(input_ids=ids, position_ids=pos, **extra).logits[0]


def smart_resize_records():
    out = []
    for h, w in SMART_RESIZE_SIZES:
        rec = {"height": h, "width": w}
        try:
            rh, rw = smart_resize(h, w, factor=28, min_pixels=REAL_MIN_PIXELS, max_pixels=REAL_MAX_PIXELS)
            rec.update(resized_height=rh, resized_width=rw)
        except ValueError as e:
            rec["error"] = str(e)
        out.append(rec)
    return {"call": "transformers.models.qwen2_vl.image_processing_qwen2_vl.smart_resize(height, width, "
                    f"factor=28, min_pixels={REAL_MIN_PIXELS}, max_pixels={REAL_MAX_PIXELS})",
            "note": "min/max pixels of Qwen2-VL-2B-Instruct's preprocessor_config.json; 'error' is the "
                    "ValueError the reference raises",
            "cases": out}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "fixtures"))
    args = ap.parse_args(argv)
    fdir = mf.fresh_dir(Path(args.out) / "qwen2vl")

    tok = mf.build_qwen2_vl_tokenizer()
    model = build_model(tok)
    image_processor = Qwen2VLImageProcessor(min_pixels=mf.QWEN_VL_MIN_PIXELS, max_pixels=mf.QWEN_VL_MAX_PIXELS)
    processor = Qwen2VLProcessor(image_processor=image_processor, tokenizer=tok,
                                 chat_template=QWEN2_VL_CHAT_TEMPLATE)
    model.save_pretrained(fdir / "model", safe_serialization=True)
    processor.save_pretrained(fdir / "model")

    images = {"wide": mf.synthetic_png(300, 60, 1), "tall": mf.synthetic_png(70, 200, 2),
              "small": mf.synthetic_png(40, 30, 3)}
    for name, im in images.items():
        im.save(fdir / f"{name}.png")
    photo = Image.open(mf.IMAGES_DIR / mf.LLAVA_IMAGE).convert("RGB")
    llava_png = Image.open(mf.REPO_ROOT / "tests" / "fixtures" / "llava" / "image.png").convert("RGB")
    assert np.array_equal(np.asarray(photo), np.asarray(llava_png)), "llava/image.png is not the decoded JPEG"
    by_file = {f"{name}.png": im for name, im in images.items()}
    by_file["../llava/image.png"] = photo
    cases = {name: (files, [by_file[f] for f in files]) for name, files in mf.QWEN_VL_CASES.items()}

    tensors, desc, case_info = {}, {}, {}
    for name, (files, pil) in cases.items():
        text = mf.qwen_vl_prompt(processor, len(pil))
        inputs = processor(text=[text], images=pil, return_tensors="pt")
        ids, pv, grid = inputs["input_ids"], inputs["pixel_values"], inputs["image_grid_thw"]
        # Each image alone through the image processor gives the same rows, in order.
        rows = torch.cat([image_processor(images=[im], return_tensors="pt")["pixel_values"] for im in pil])
        assert torch.equal(rows, pv)
        pos, delta = rope_index(model, ids, grid)
        with torch.no_grad():
            rotary = model.visual.rot_pos_emb(grid)
        tensors[f"{name}.vision_rotary"] = rotary.float()
        desc[f"{name}.vision_rotary"] = (
            "model.visual.rot_pos_emb(image_grid_thw): [n_patches, 8] = [h_id * inv_freq(4), w_id * "
            "inv_freq(4)] per patch in pixel_values' row order; inv_freq[0] = 1, so columns 0 and 4 "
            "are the patch's row and column ids")
        tensors.update({f"{name}.pixel_values": pv.float(), f"{name}.image_grid_thw": grid.long(),
                        f"{name}.input_ids": ids[0].long(), f"{name}.position_ids": pos.long(),
                        f"{name}.rope_delta": delta.long()})
        desc.update({
            f"{name}.pixel_values": "processor(text, images).pixel_values: [sum over images of t*h*w, "
                                    "3*2*14*14] flattened patches, images concatenated in prompt order",
            f"{name}.image_grid_thw": "image_grid_thw: [n_images, 3] (t, h, w) in 14-px patches",
            f"{name}.input_ids": "input_ids[0] after the processor expanded each <|image_pad|> to "
                                 "t*h*w/4 copies",
            f"{name}.position_ids": "get_rope_index(input_ids, image_grid_thw, attention_mask=ones)"
                                    "[0][:, 0, :]: [3 (temporal, height, width), n_tokens]",
            f"{name}.rope_delta": "get_rope_index(...)[1] (mrope_position_deltas): max position + 1 - "
                                  "n_tokens; decoding continues at position n_tokens + delta"})
        case_info[name] = mf.qwen_vl_case(files, pil, text, ids, grid, delta)

    # Vision tower output after the merger, every case (pair: both images, in prompt order).
    for name in cases:
        with torch.no_grad():
            feats = model.visual(tensors[f"{name}.pixel_values"], grid_thw=tensors[f"{name}.image_grid_thw"])
        tensors[f"{name}.vision_features"] = feats.float()
        desc[f"{name}.vision_features"] = (
            "model.visual(pixel_values, grid_thw=image_grid_thw): [sum of t*h*w/4, 64], the merger's "
            "output, one row per <|image_pad|> token")

    pad_id = tok.convert_tokens_to_ids("<|endoftext|>")
    greedy = {}
    for name in cases:
        extra = {"pixel_values": tensors[f"{name}.pixel_values"],
                 "image_grid_thw": tensors[f"{name}.image_grid_thw"]}
        ids = tensors[f"{name}.input_ids"].unsqueeze(0)
        with torch.no_grad():
            logits = mrope_forward(model, ids, extra)
        tensors[f"{name}.logits"] = logits.float()
        desc[f"{name}.logits"] = ("model(input_ids, pixel_values, image_grid_thw, position_ids=<name>.position_ids "
                                  "as [3, 1, n]).logits[0]: [n_tokens, 1024]")
        # generate() continues M-RoPE positions at n + rope_delta; the loop recomputes them every step.
        toks, margin = mf.check_greedy_steps(
            model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), **extra}, pad_id, ids,
            lambda step_ids: mrope_forward(model, step_ids, extra)[-1], mf.append_token)
        tensors[f"{name}.greedy_tokens"] = torch.tensor(toks, dtype=torch.int64)
        desc[f"{name}.greedy_tokens"] = ("16 greedy tokens: " + mf.GENERATE_CALL
                                          + "; the manual loop passes get_rope_index's position ids")
        greedy[name] = {"tokens": toks, "min_top1_top2_logit_margin": margin}

    # Reloading the saved directory gives the same ids, pixels and logits.
    model2 = Qwen2VLForConditionalGeneration.from_pretrained(fdir / "model", attn_implementation=mf.ATTN_IMPL,
                                                             torch_dtype=torch.float32).eval()
    processor2 = Qwen2VLProcessor.from_pretrained(fdir / "model")
    inputs = processor2(text=[mf.qwen_vl_prompt(processor2, 2)], images=[photo, images["tall"]], return_tensors="pt")
    assert torch.equal(inputs["input_ids"][0], tensors["pair.input_ids"])
    assert torch.equal(inputs["pixel_values"], tensors["pair.pixel_values"])
    with torch.no_grad():
        extra = {"pixel_values": inputs["pixel_values"], "image_grid_thw": inputs["image_grid_thw"]}
        assert torch.equal(mrope_forward(model2, inputs["input_ids"], extra), tensors["pair.logits"])

    mf.write_json(fdir / "smart_resize.json", smart_resize_records())
    mf.write_qwen_vl_golden(
        fdir, tensors, desc, tok, "tiny random Qwen2-VL (issue 17): preprocessing, M-RoPE position ids, vision "
        "features, logits", SEED, {"min_pixels": mf.QWEN_VL_MIN_PIXELS, "max_pixels": mf.QWEN_VL_MAX_PIXELS},
        case_info, greedy)


if __name__ == "__main__":
    main()
