#!/usr/bin/env python3
"""Golden fixture for InternVL (issue 14), from transformers 5.x's own InternVL classes.

Writes tests/fixtures/internvl/ (or --out):

  model/               a tiny random-weight InternVLForConditionalGeneration in the native "-hf"
                       layout (InternVL3-1B-hf's), saved by save_pretrained with its InternVLProcessor:
                       InternViT vision tower (class token, learned positions, layer scale; QK-norm
                       off as in InternViT-300M, --qk-norm turns it on), pixel shuffle 0.5, the
                       LayerNorm + 2-linear projector, and a 2-layer Qwen2 (hidden 64). The image
                       processor is GotOcr2's with crop_to_patches, tile 56 (the tower's image size),
                       min 1 / max 6 tiles, bicubic, ImageNet mean/std.
  images/              the synthetic test images (wide.png 90x30, tall.png 24x80, square.png 40x40)
  golden.safetensors   tensors, described in golden.json
  golden.json          versions, configs, per image the tile grid and count, prompt ids, greedy tokens,
                       tile grids for a list of sizes, and the description of every tensor

Why tile 56 and not InternVL's 448: one 448 tile is 3x448x448 float32 = 2.4 MB, and the JPEG
photograph tiles into 6 + a thumbnail. The C++ processor reads the tile size from the config, so a
56-pixel tile runs the same code (grid choice, resize, split, thumbnail, normalize) with full pixel
values stored for every image. The 448 path (real checkpoints' defaults: 448, 1..12 tiles) is
recorded without full pixels: the grid for a list of sizes, and for the photograph per-tile sums and
a few exact rows (the "real448_*" tensors).

The processor is the PIL backend (GotOcr2ImageProcessorPil): its resize is Pillow's, as InternVL's
own preprocessing (torchvision's Resize on PIL images) is; the torchvision backend differs by
rounding (and needs torchvision, which tools/requirements-tf5.txt does not install).

Usage (the transformers 5.x venv, tools/requirements-tf5.txt):
    .venv5/bin/python tools/make_internvl_fixture.py [--out tests/fixtures/internvl]

Single-threaded on the CPU, a few seconds, deterministic.
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tokenizers import AddedToken  # noqa: E402
from transformers import (  # noqa: E402
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLProcessor,
    InternVLVisionConfig,
    Qwen2Config,
    Qwen2TokenizerFast,
)
from transformers.models.got_ocr2.image_processing_pil_got_ocr2 import (  # noqa: E402
    GotOcr2ImageProcessorPil,
    get_optimal_tiled_canvas,
)


torch.set_num_threads(1)


class FixtureProcessor(InternVLProcessor):
    """InternVLProcessor without its video processor. transformers 5.25 looks up every component's
    class, the absent video processor's too, and that lookup needs torchvision (not in
    requirements-tf5.txt; its resize is not Pillow's anyway). Images take the unchanged code path,
    and the saved processor_config.json is what InternVLProcessor writes for these two components."""

    @classmethod
    def get_attributes(cls):
        return ["image_processor", "tokenizer"]


# processor_class in the saved files: the class real checkpoints name.
FixtureProcessor.__name__ = FixtureProcessor.__qualname__ = "InternVLProcessor"


SEED = 4001
TILE = 56  # the tower's image size: 4x4 patches of 14, 2x2 = 4 tokens per tile after pixel shuffle
MAX_TILES = 6
IMAGE_SEQ_LENGTH = (TILE // 14) ** 2 // 4
PHOTO = "mmbench_21.jpg"  # 500x336: ratio 1.49, tiled 3x2 + thumbnail
QUESTION = "What is in the picture?"
PROMPT = "<|im_start|>user\n<IMG_CONTEXT>\n" + QUESTION + "<|im_end|>\n<|im_start|>assistant\n"
GRID_SIZES = [(100, 800), (800, 100), (448, 448), (1000, 600), (1920, 1080), (512, 341), (500, 336),
              (90, 30), (24, 80), (40, 40), (1, 1), (3000, 200), (600, 1000), (896, 448), (700, 300),
              (1000, 1000), (2000, 2000), (100, 100)]  # the last three: ties broken by the area rule
# A ChatML template that renders an image part as "<IMG_CONTEXT>\n" (what the processor expands),
# written for this fixture after the behaviour of the -hf checkpoints' templates: no default system
# message, string or list content. main() asserts it renders PROMPT.
INTERNVL_HF_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
IMAGE_TOKENS = {"start_image_token": "<img>", "end_image_token": "</img>",
                "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"}


def synthetic_image(width, height, seed):
    """A smooth colour gradient with noise: every resize filter tap sees different values."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + y) * 127 // max(width + height - 2, 1)], axis=-1)
    rgb = np.clip(rgb + rng.integers(-40, 41, rgb.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def build_tokenizer():
    """make_fixtures' Qwen2 tokenizer (950 tokens) + <img> </img> <IMG_CONTEXT> <video> (950..953),
    named as InternVL3-1B-hf's tokenizer_config.json names them (extra_special_tokens)."""
    raw = mf.build_qwen2_tokenizer().backend_tokenizer
    raw.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in IMAGE_TOKENS.values()])
    return Qwen2TokenizerFast(tokenizer_object=raw, unk_token=None, bos_token=None, eos_token="<|im_end|>",
                              pad_token="<|endoftext|>", clean_up_tokenization_spaces=False,
                              split_special_tokens=False, model_max_length=256, errors="replace",
                              chat_template=INTERNVL_HF_CHAT_TEMPLATE, extra_special_tokens=dict(IMAGE_TOKENS))


def image_processor_kwargs(tile, max_tiles):
    return dict(do_resize=True, size={"height": tile, "width": tile}, resample=3, crop_to_patches=True,
                min_patches=1, max_patches=max_tiles, do_rescale=True, rescale_factor=1 / 255,
                do_normalize=True, image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                do_convert_rgb=True)


def make_model(vocab, image_token_id, qk_norm):
    vision = InternVLVisionConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, hidden_act="gelu",
        use_qk_norm=qk_norm, norm_type="layer_norm", layer_norm_eps=1e-6, image_size=[TILE, TILE],
        patch_size=[14, 14], attention_bias=True, layer_scale_init_value=0.1,
        use_absolute_position_embeddings=True, use_mean_pooling=True)
    text = Qwen2Config(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256, rms_norm_eps=1e-6,
        rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False, bos_token_id=None,
        eos_token_id=952, pad_token_id=None)
    config = InternVLConfig(vision_config=vision, text_config=text, image_token_id=image_token_id,
                            image_seq_length=IMAGE_SEQ_LENGTH, downsample_ratio=0.5,
                            projector_hidden_act="gelu", vision_feature_layer=-1,
                            vision_feature_select_strategy="default", tie_word_embeddings=False)
    model = mf.make_model(InternVLForConditionalGeneration, config, SEED)
    # Layer scale (lambda_1/2) as biases would be N(0, 0.05): the blocks would barely change the
    # residual stream. Give them 0.5 + N(0, 0.1) so a C++ bug in a block shows in the features.
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if "lambda_" in name:
                p.copy_(0.5 + 0.1 * torch.randn(p.shape, generator=g))
    return model


def tile_grid(width, height, tile, max_tiles):
    columns, rows = get_optimal_tiled_canvas((height, width), (tile, tile), 1, max_tiles)
    return {"width": width, "height": height, "rows": rows, "columns": columns,
            "tiles": rows * columns + (1 if rows * columns > 1 else 0)}


def process_image(proc_pil, image, name):
    out = proc_pil(images=[image], return_tensors="pt")
    pixels = out["pixel_values"].float()
    w, h = image.size
    grid = tile_grid(w, h, TILE, MAX_TILES)
    assert pixels.shape[0] == grid["tiles"], (name, pixels.shape, grid)
    assert int(out["num_patches"][0]) == grid["tiles"]
    return pixels, grid


def real448(photo):
    """The photograph through InternVL's real defaults (448 tiles, 1..12): per-tile sums and rows."""
    proc = GotOcr2ImageProcessorPil(**image_processor_kwargs(448, 12))
    pixels = proc(images=[photo], return_tensors="pt")["pixel_values"].float()
    w, h = photo.size
    grid = tile_grid(w, h, 448, 12)
    assert pixels.shape[0] == grid["tiles"]
    sums = pixels.double().sum(dim=(2, 3))  # [tiles, 3]
    rows = pixels[:, :, [0, 223, 447], :].contiguous()  # [tiles, 3, 3, 448]
    return sums, rows, grid


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "fixtures" / "internvl"))
    ap.add_argument("--qk-norm", action="store_true", help="InternViT with QK-norm (as InternViT-6B)")
    args = ap.parse_args(argv)
    out = mf.fresh_dir(Path(args.out))
    model_dir = out / "model"
    images_dir = out / "images"
    images_dir.mkdir()

    tokenizer = build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in IMAGE_TOKENS.values()}
    assert list(ids.values()) == [950, 951, 952, 953], ids
    image_token_id = ids["<IMG_CONTEXT>"]
    proc_pil = GotOcr2ImageProcessorPil(**image_processor_kwargs(TILE, MAX_TILES))
    processor = FixtureProcessor(image_processor=proc_pil, tokenizer=tokenizer,
                                  image_seq_length=IMAGE_SEQ_LENGTH, chat_template=INTERNVL_HF_CHAT_TEMPLATE)
    # <|im_end|> ends a turn; as in make_fixtures' qwen2, generation disables EOS anyway.
    model = make_model(mf.QWEN2_MODEL_VOCAB, image_token_id, args.qk_norm)
    model.config.text_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")

    photo_path = mf.IMAGES_DIR / PHOTO
    photo = Image.open(photo_path).convert("RGB")
    images = {"wide.png": synthetic_image(90, 30, 1), "tall.png": synthetic_image(24, 80, 2),
              "square.png": synthetic_image(40, 40, 3)}
    for name, img in images.items():
        img.save(images_dir / name)
        images[name] = Image.open(images_dir / name).convert("RGB")  # as decoded from the file
    images[PHOTO] = photo

    tensors, desc, per_image = {}, {}, {}
    for name, img in images.items():
        pixels, grid = process_image(proc_pil, img, name)
        key = name.split(".")[0]
        tensors[f"pixel_values.{key}"] = pixels
        desc[f"pixel_values.{key}"] = (f"GotOcr2ImageProcessorPil pixel values of {name} [tiles, 3, {TILE}, "
                                       f"{TILE}]: the grid's tiles row-major, then the thumbnail when tiles > 1")
        per_image[name] = grid

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    assert processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == PROMPT
    # The prompt with the photograph, through the processor as a whole.
    inputs = processor(images=[photo], text=[PROMPT], return_tensors="pt")
    assert torch.equal(inputs["pixel_values"].float(), tensors[f"pixel_values.{PHOTO.split('.')[0]}"])
    input_ids = inputs["input_ids"]
    n_ctx = int((input_ids == image_token_id).sum())
    assert n_ctx == IMAGE_SEQ_LENGTH * per_image[PHOTO]["tiles"], n_ctx
    with torch.no_grad():
        features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
        vision_out = model.model.vision_tower(pixel_values=inputs["pixel_values"])
        last = vision_out.last_hidden_state
        side = TILE // 14
        grid_feats = last[:, 1:, :].reshape(last.shape[0], side, side, -1)
        shuffled = model.model.pixel_shuffle(grid_feats, scale_factor=0.5)
        logits = model(**inputs).logits[0]
    gen, margin = mf.check_greedy(model, dict(inputs), tokenizer.pad_token_id,
                                  {"pixel_values": inputs["pixel_values"]})

    model.save_pretrained(str(model_dir))
    processor.save_pretrained(str(model_dir))

    # Round trip: transformers' own loading of the saved directory gives the same everything.
    proc2 = FixtureProcessor.from_pretrained(str(model_dir), backend="pil")
    assert type(proc2.image_processor).__name__ == "GotOcr2ImageProcessorPil", type(proc2.image_processor)
    inputs2 = proc2(images=[photo], text=[PROMPT], return_tensors="pt")
    assert torch.equal(inputs2["input_ids"], input_ids)
    assert torch.equal(inputs2["pixel_values"], inputs["pixel_values"])
    m2 = InternVLForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation=mf.ATTN_IMPL,
                                                          dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(m2(**inputs2).logits[0], logits), "reloaded model gives different logits"
    assert mf.greedy_generate(m2, dict(inputs2), tokenizer.pad_token_id) == gen

    tensors.update({
        "input_ids": input_ids[0],
        "vision_last_hidden_state": last,
        "pixel_shuffle_input": grid_feats.contiguous(),
        "pixel_shuffle_output": shuffled,
        "image_features": features,
        "prompt_logits_last": logits[-1],
    })
    desc.update({
        "input_ids": "processor(images=[photo], text=[prompt]).input_ids[0]: <IMG_CONTEXT> expanded to "
                     "<img> + <IMG_CONTEXT> x (4 x tiles) + </img>",
        "vision_last_hidden_state": "model.model.vision_tower(pixel_values).last_hidden_state [tiles, 1 + 16, 32] "
                                    "(class token first; the final layer, no post-norm: use_mean_pooling)",
        "pixel_shuffle_input": "last_hidden_state[:, 1:] reshaped [tiles, 4, 4, 32]",
        "pixel_shuffle_output": "model.model.pixel_shuffle(pixel_shuffle_input, 0.5) [tiles, 2, 2, 128]",
        "image_features": "get_image_features(pixel_values).pooler_output: pixel shuffle, then the projector "
                          "(LayerNorm 128, linear 128->64, gelu, linear 64->64) [tiles, 4, 64]",
        "prompt_logits_last": "model(**inputs).logits[0, -1] [1024]",
    })
    sums, rows, grid448 = real448(photo)
    tensors["real448_tile_sums"] = sums.float()
    tensors["real448_rows"] = rows
    desc["real448_tile_sums"] = (f"{PHOTO} through the 448-tile, 1..12 processor: sum over H and W of every "
                                 "tile and channel, in float64 (stored as float32) [tiles, 3]")
    desc["real448_rows"] = "the same pixel values' rows 0, 223 and 447 of every tile and channel [tiles, 3, 3, 448]"

    info = {
        "generator": "tools/make_internvl_fixture.py",
        "versions": mf.versions(),
        "seed": SEED,
        "qk_norm": args.qk_norm,
        "model_dir": "model",
        "checkpoint_layout": mf.checkpoint_layout(model_dir),
        "token_ids": {**ids, "<|im_end|>": tokenizer.convert_tokens_to_ids("<|im_end|>"),
                      "<|endoftext|>": tokenizer.pad_token_id},
        "image_processor": {"tile": TILE, "min_tiles": 1, "max_tiles": MAX_TILES,
                            "class": "GotOcr2ImageProcessorPil", "crop_to_patches": True,
                            "use_thumbnail": "always (transformers passes no use_thumbnail: a thumbnail "
                                             "follows whenever the grid has more than one tile)"},
        "images": per_image,
        "photo": {"file": f"../shared/images/{PHOTO}", "size": list(photo.size),
                  "real448_grid": grid448},
        "grids": {"tile56_max6": [tile_grid(w, h, TILE, MAX_TILES) for w, h in GRID_SIZES],
                  "tile448_max12": [tile_grid(w, h, 448, 12) for w, h in GRID_SIZES]},
        "prompt": {"text": PROMPT, "image": PHOTO, "image_tokens": n_ctx,
                   "image_seq_length": IMAGE_SEQ_LENGTH},
        "greedy": {"tokens": gen, "min_top2_margin": margin, "call": mf.GENERATE_CALL},
        "notes": [
            "InternVLProcessor passes crop_to_patches=True over the image processor's own value (hub "
            "files say false): the processor always tiles when max_patches > 1",
            "save_pretrained writes the hub -hf names (language_model.model.*, language_model.lm_head.weight, "
            "vision_tower.*, multi_modal_projector.*), as InternVL3-1B-hf's model.safetensors has them",
            "vision layer scale (lambda_1/2) is 0.5 + N(0, 0.1); other weights as fixture_common.reinit_weights_",
            "greedy tokens include <|im_end|> (949): EOS is disabled, the engine must disable it too to compare",
        ],
        "round_trip": "InternVLProcessor.from_pretrained(model, backend='pil') (without video processor) and "
                      "InternVLForConditionalGeneration.from_pretrained(model) reproduce input_ids, "
                      "pixel_values, logits (exactly) and the greedy tokens",
    }
    mf.write_golden(out, tensors, desc, info)
    print(f"wrote {out} ({mf.dir_size(out) / 1e6:.2f} MB); photo tiles {per_image[PHOTO]['tiles']}, "
          f"greedy {gen}, margin {margin:.4f}")


if __name__ == "__main__":
    main()
