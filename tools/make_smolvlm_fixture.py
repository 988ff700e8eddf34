#!/usr/bin/env python3
"""Golden fixture for SmolVLM / Idefics3 (issue 15), from transformers 5.x's own classes.

Writes tests/fixtures/smolvlm/ (or --out):

  model/               a tiny random-weight SmolVLMForConditionalGeneration saved by save_pretrained with
                       its SmolVLMProcessor: a SigLIP-style tower (48 px sub-images of 8 px patches, 6x6
                       patches, GELU-tanh, post-LayerNorm), the pixel-shuffle connector (scale_factor 2:
                       9 image tokens a sub-image) and a 2-layer Llama (hidden 64). The image processor is
                       SmolVLMImageProcessor's PIL backend with size.longest_edge 144 and
                       max_image_size.longest_edge 48 (so a photograph splits into 3x2 sub-images plus the
                       global image), LANCZOS, mean/std 0.5; the chat template is transformers' SmolVLM
                       DEFAULT_CHAT_TEMPLATE.
  idefics3/            the same weights as Idefics3ForConditionalGeneration with its Idefics3Processor:
                       every file save_pretrained writes except model.safetensors, whose tensor names are
                       asserted equal to model/'s (the C++ test pairs these files with model/'s weights)
  images/              synthetic test images (wide.png 90x30, tall.png 24x80, square.png 40x40)
  golden.safetensors   tensors, described in golden.json
  golden.json          versions, configs, per image the sub-image grid, prompt ids, greedy tokens, the grids
                       of a list of sizes for this processor and for the real checkpoints' settings

6x6 patches a sub-image (not a power of two) so that the position ids, which transformers computes by
bucketizing float32 fractions, take their inexact path; scale_factor 2 as Idefics3 (SmolVLM-256M uses 4).

The processor is the PIL backend (SmolVLMImageProcessorPil): its resize is Pillow's. SmolVLMProcessor needs
num2words (tools/requirements-tf5.txt).

Usage (the transformers 5.x venv, tools/requirements-tf5.txt):
    .venv5/bin/python tools/make_smolvlm_fixture.py [--out tests/fixtures/smolvlm]

Single-threaded on the CPU, a few seconds, deterministic.
"""

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common as mf

import argparse  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tokenizers import AddedToken  # noqa: E402
from transformers import (  # noqa: E402
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    SmolVLMProcessor,
)
from transformers.processing_utils import ProcessorMixin  # noqa: E402
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil  # noqa: E402
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil  # noqa: E402
from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE  # noqa: E402

from make_internvl_fixture import synthetic_image  # noqa: E402

torch.set_num_threads(1)


class FixtureProcessor(SmolVLMProcessor):
    """SmolVLMProcessor without its video processor, whose class lookup needs torchvision (not in
    requirements-tf5.txt). Images take the unchanged code path."""

    @classmethod
    def get_attributes(cls):
        return ["image_processor", "tokenizer"]

    def __init__(self, image_processor, tokenizer, video_processor=None, image_seq_len=169, chat_template=None,
                 **kwargs):
        super().__init__(image_processor, tokenizer, video_processor, image_seq_len=image_seq_len,
                         chat_template=chat_template, **kwargs)


FixtureProcessor.__name__ = FixtureProcessor.__qualname__ = "SmolVLMProcessor"

SEED = 5001
SUB_IMAGE = 48  # max_image_size.longest_edge = the tower's image_size
PATCH = 8
SCALE_FACTOR = 2
IMAGE_SEQ_LEN = (SUB_IMAGE // PATCH) ** 2 // SCALE_FACTOR ** 2  # 9
LONGEST_EDGE = 3 * SUB_IMAGE  # size.longest_edge
PHOTO = "mmbench_21.jpg"  # 500x336 -> 144x96 -> 3x2 sub-images + the global image
QUESTION = "What is in the picture?"
PROMPT = "<|im_start|>User:<image>" + QUESTION + "<end_of_utterance>\nAssistant:"
SPECIAL_TOKENS = (["<|im_start|>", "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>"]
                  + [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)])
MODEL_VOCAB = 1056  # 1000 + 41 added tokens, padded
GRID_SIZES = [(100, 800), (800, 100), (448, 448), (1000, 600), (1920, 1080), (512, 341), (500, 336), (90, 30),
              (24, 80), (40, 40), (1, 1), (3000, 200), (600, 1000), (97, 131), (143, 145), (5000, 4000)]
# The real checkpoints' settings: SmolVLM-256M/500M-Instruct (2048 / 512), Idefics3 and SmolVLM v1 (1456 / 364)
REAL_SETTINGS = {"smolvlm_2048_512": (2048, 512), "idefics3_1456_364": (1456, 364)}


def image_processor_kwargs(cls, longest_edge, sub_image):
    return cls(do_resize=True, size={"longest_edge": longest_edge}, resample=1, do_rescale=True,
               rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
               do_convert_rgb=True, do_image_splitting=True, max_image_size={"longest_edge": sub_image},
               do_pad=True)


def build_tokenizer():
    """make_fixtures' Llama tokenizer (1000 tokens) + SmolVLM's added tokens (1000..1040)."""
    tok = mf.wrap_llama_tokenizer(mf.build_llama_tokenizer(), chat_template=DEFAULT_CHAT_TEMPLATE)
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS], special_tokens=True)
    ids = tok.convert_tokens_to_ids(SPECIAL_TOKENS)
    assert ids == list(range(1000, 1000 + len(SPECIAL_TOKENS))), ids
    return tok


def configs(image_token_id, eos_id):
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_channels=3,
                  image_size=SUB_IMAGE, patch_size=PATCH, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    text = mf.llama_text_config(MODEL_VOCAB, num_layers=2, max_position_embeddings=512, eos_token_id=eos_id,
                                pad_token_id=None)
    return vision, text


def sub_image_grid(proc, image):
    out = proc(images=[[image]], return_row_col_info=True, return_tensors="pt")
    rows, cols = int(out["rows"][0][0]), int(out["cols"][0][0])
    count = rows * cols + 1 if rows * cols else 1
    assert out["pixel_values"].shape[1] == count, (out["pixel_values"].shape, rows, cols)
    assert bool(out["pixel_attention_mask"].all()), "a single image is never padded"
    return out["pixel_values"][0].float(), {"width": image.size[0], "height": image.size[1], "rows": rows,
                                            "cols": cols, "sub_images": count}


def predicted_grid(proc, width, height):
    patches, rows, cols = proc.get_number_of_image_patches(height, width)
    return {"width": width, "height": height, "rows": rows, "cols": cols, "sub_images": max(patches, 1)}


# (table side, patch grid side) pairs: real checkpoints' 26, 27 and 32; sides whose identity mapping fails
# (19, 25: float32 rounding in transformers' bucketize); grids smaller and larger than the table.
POSITION_CASES = [(6, 6), (19, 19), (25, 25), (26, 26), (27, 27), (32, 32), (40, 40), (20, 25), (25, 20), (6, 4),
                  (6, 9)]


def position_ids(side, grid):
    """SmolVLMVisionEmbeddings' position ids for a full grid x grid patch mask over a side x side table: the
    module itself, with 1-pixel patches, a zero patch embedding and position_embedding[k] = k."""
    from transformers.models.smolvlm.modeling_smolvlm import SmolVLMVisionEmbeddings
    from transformers.models.smolvlm.configuration_smolvlm import SmolVLMVisionConfig
    embeddings = SmolVLMVisionEmbeddings(SmolVLMVisionConfig(hidden_size=1, image_size=side, patch_size=1))
    with torch.no_grad():
        embeddings.patch_embedding.weight.zero_()
        embeddings.patch_embedding.bias.zero_()
        embeddings.position_embedding.weight.copy_(torch.arange(side * side, dtype=torch.float32)[:, None])
        out = embeddings(torch.zeros(1, 3, grid, grid), torch.ones(1, grid, grid, dtype=torch.bool))
    return [int(v) for v in out.flatten().tolist()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(mf.REPO_ROOT / "tests" / "fixtures" / "smolvlm"))
    args = ap.parse_args(argv)
    out = mf.fresh_dir(Path(args.out))
    model_dir = out / "model"
    images_dir = out / "images"
    images_dir.mkdir()

    tokenizer = build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS[:5]}
    image_token_id = ids["<image>"]
    eos_id = ids["<end_of_utterance>"]
    proc_pil = image_processor_kwargs(SmolVLMImageProcessorPil, LONGEST_EDGE, SUB_IMAGE)
    processor = FixtureProcessor(image_processor=proc_pil, tokenizer=tokenizer, video_processor=None,
                                 image_seq_len=IMAGE_SEQ_LEN, chat_template=DEFAULT_CHAT_TEMPLATE)
    vision, text = configs(image_token_id, eos_id)
    config = SmolVLMConfig(vision_config=vision, text_config=text.to_dict(), scale_factor=SCALE_FACTOR,
                           image_token_id=image_token_id, tie_word_embeddings=False)
    model = mf.make_model(SmolVLMForConditionalGeneration, config, SEED)

    photo = Image.open(mf.IMAGES_DIR / PHOTO).convert("RGB")
    images = {"wide.png": synthetic_image(90, 30, 11), "tall.png": synthetic_image(24, 80, 12),
              "square.png": synthetic_image(40, 40, 13)}
    for name, img in images.items():
        img.save(images_dir / name)
        images[name] = Image.open(images_dir / name).convert("RGB")  # as decoded from the file
    images[PHOTO] = photo

    tensors, desc, per_image = {}, {}, {}
    for name, img in images.items():
        pixels, grid = sub_image_grid(proc_pil, img)
        assert grid == predicted_grid(proc_pil, *img.size), (grid, predicted_grid(proc_pil, *img.size))
        key = name.split(".")[0]
        per_image[name] = grid
        tensors[f"pixel_sums.{key}"] = pixels.double().sum(dim=(2, 3)).float()
        desc[f"pixel_sums.{key}"] = f"{name}: sum over H and W of every sub-image and channel (float64) [n, 3]"
        if name in ("wide.png", PHOTO):
            tensors[f"pixel_values.{key}"] = pixels
            desc[f"pixel_values.{key}"] = (f"SmolVLMImageProcessorPil pixel values of {name} [n, 3, {SUB_IMAGE}, "
                                           f"{SUB_IMAGE}]: the sub-images row-major, then the global image")

    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    # SmolVLMProcessor.apply_chat_template only adds the video processor's frame defaults (there is none here)
    # before ProcessorMixin's.
    rendered = ProcessorMixin.apply_chat_template(processor, messages, add_generation_prompt=True, tokenize=False)
    assert rendered == PROMPT, rendered
    inputs = processor(images=[[photo]], text=[PROMPT], return_tensors="pt")
    assert torch.equal(inputs["pixel_values"][0].float(), tensors["pixel_values.mmbench_21"])
    input_ids = inputs["input_ids"]
    n_image = int((input_ids == image_token_id).sum())
    assert n_image == IMAGE_SEQ_LEN * per_image[PHOTO]["sub_images"], n_image
    expanded_text = tokenizer.decode(input_ids[0], skip_special_tokens=False)
    with torch.no_grad():
        vision_out = model.model.vision_model(pixel_values=inputs["pixel_values"][0])
        features = model.get_image_features(pixel_values=inputs["pixel_values"],
                                            pixel_attention_mask=inputs["pixel_attention_mask"]).pooler_output[0]
        logits = model(**inputs).logits[0]
    extra = {"pixel_values": inputs["pixel_values"], "pixel_attention_mask": inputs["pixel_attention_mask"]}
    gen, margin = mf.check_greedy(model, dict(inputs), eos_id, extra)

    model.save_pretrained(str(model_dir))
    processor.save_pretrained(str(model_dir))

    proc2 = FixtureProcessor.from_pretrained(str(model_dir), backend="pil")
    assert type(proc2.image_processor).__name__ == "SmolVLMImageProcessorPil", type(proc2.image_processor)
    inputs2 = proc2(images=[[photo]], text=[PROMPT], return_tensors="pt")
    assert torch.equal(inputs2["input_ids"], input_ids)
    assert torch.equal(inputs2["pixel_values"], inputs["pixel_values"])
    m2 = SmolVLMForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation=mf.ATTN_IMPL,
                                                         dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(m2(**inputs2).logits[0], logits), "reloaded model gives different logits"
    layout = mf.checkpoint_layout(model_dir)

    # The same weights as Idefics3 (SmolVLM v1's class) with its own processor: same ids, same logits.
    idefics3_config = Idefics3Config(vision_config=vision, text_config=text.to_dict(), scale_factor=SCALE_FACTOR,
                                     image_token_id=image_token_id, tie_word_embeddings=False)
    idefics3 = mf.make_model(Idefics3ForConditionalGeneration, idefics3_config, SEED)
    idefics3.load_state_dict(model.state_dict())
    idefics3_processor = Idefics3Processor(
        image_processor=image_processor_kwargs(Idefics3ImageProcessorPil, LONGEST_EDGE, SUB_IMAGE),
        tokenizer=tokenizer, image_seq_len=IMAGE_SEQ_LEN, chat_template=DEFAULT_CHAT_TEMPLATE)
    idefics3_inputs = idefics3_processor(images=[[photo]], text=[PROMPT], return_tensors="pt")
    assert torch.equal(idefics3_inputs["input_ids"], input_ids)
    assert torch.equal(idefics3_inputs["pixel_values"], inputs["pixel_values"])
    with torch.no_grad():
        assert torch.equal(idefics3(**idefics3_inputs).logits[0], logits), "Idefics3 gives different logits"
    idefics3_dir = out / "idefics3"
    with tempfile.TemporaryDirectory() as tmp:
        idefics3.save_pretrained(tmp)
        idefics3_processor.save_pretrained(tmp)
        assert mf.checkpoint_layout(Path(tmp)) == layout, "Idefics3 saves other tensor names"
        shutil.copytree(tmp, idefics3_dir, ignore=shutil.ignore_patterns("*.safetensors"))

    tensors.update({
        "input_ids": input_ids[0],
        "vision_last_hidden_state": vision_out.last_hidden_state,
        "image_features": features,
        "prompt_logits_last": logits[-1],
    })
    desc.update({
        "input_ids": "processor(images=[[photo]], text=[prompt]).input_ids[0]: <image> expanded to the 3x2 "
                     "sub-images' <fake_token_around_image><row_r_col_c><image>x9, a newline a row, then "
                     "\\n<fake_token_around_image><global-img><image>x9<fake_token_around_image>",
        "vision_last_hidden_state": "model.model.vision_model(pixel_values[0]).last_hidden_state [7, 36, 32] "
                                    "(after post_layernorm)",
        "image_features": "get_image_features(...).pooler_output[0]: pixel shuffle 2, modality_projection.proj "
                          "[7 * 9, 64]",
        "prompt_logits_last": f"model(**inputs).logits[0, -1] [{MODEL_VOCAB}]",
    })

    info = {
        "generator": "tools/make_smolvlm_fixture.py",
        "versions": mf.versions(),
        "seed": SEED,
        "model_dir": "model",
        "checkpoint_layout": layout,
        "token_ids": ids,
        "image_processor": {"class": "SmolVLMImageProcessorPil", "size.longest_edge": LONGEST_EDGE,
                            "max_image_size.longest_edge": SUB_IMAGE, "resample": "LANCZOS",
                            "image_seq_len": IMAGE_SEQ_LEN},
        "images": per_image,
        "position_ids": [{"side": side, "grid": grid, "ids": position_ids(side, grid)}
                         for side, grid in POSITION_CASES],
        "grids": {"tiny": [predicted_grid(proc_pil, w, h) for w, h in GRID_SIZES],
                  **{name: [predicted_grid(image_processor_kwargs(SmolVLMImageProcessorPil, edge, sub), w, h)
                            for w, h in GRID_SIZES] for name, (edge, sub) in REAL_SETTINGS.items()}},
        "prompt": {"text": PROMPT, "expanded": expanded_text, "image": PHOTO, "image_tokens": n_image},
        "greedy": {"tokens": gen, "min_top2_margin": margin, "call": mf.GENERATE_CALL},
        "notes": [
            "save_pretrained (5.25) writes model.vision_model.*, model.connector.modality_projection.proj.weight, "
            "model.text_model.*, lm_head.weight; Idefics3ForConditionalGeneration writes the same names",
            "greedy tokens may include <end_of_utterance>: EOS is disabled, the engine must disable it too",
        ],
        "round_trip": "SmolVLMProcessor.from_pretrained(model, backend='pil') (without video processor) and "
                      "SmolVLMForConditionalGeneration.from_pretrained(model) reproduce input_ids, pixel_values "
                      "and logits exactly; Idefics3Processor / Idefics3ForConditionalGeneration with the same "
                      "weights give the same input_ids, pixel values and logits",
    }
    mf.write_golden(out, tensors, desc, info)
    print(f"wrote {out} ({mf.dir_size(out) / 1e6:.2f} MB); photo {per_image[PHOTO]}, greedy {gen}, "
          f"margin {margin:.4f}")


if __name__ == "__main__":
    main()
