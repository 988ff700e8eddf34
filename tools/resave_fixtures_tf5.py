#!/usr/bin/env python3
"""Re-save the LLaVA fixture with transformers 5.x, in each layout 5.x writes.

Loads the committed tests/fixtures/llava/model (written by transformers 4.46) with transformers 5.x,
checks that 5.x reproduces the committed golden outputs (pixel values, prompt ids, last-position
logits, 16 greedy tokens), and writes under <out> (default tests/fixtures/llava_tf5):

  original_format/   model.save_pretrained(dir) + processor.save_pretrained(dir): 5.x converts the
                     tensor names back to the checkpoint's original ones (language_model.model.*,
                     vision_tower.vision_model.*, ...), but the processor files are 5.x's:
                     processor_config.json with the image processor nested under "image_processor",
                     chat_template.jinja, no preprocessor_config.json
  native_format/     the same with save_pretrained(dir, save_original_format=False): the names of 5.x's
                     modules (model.language_model.*, model.vision_tower.embeddings.* and
                     model.vision_tower.encoder.* without a vision_model. segment,
                     model.multi_modal_projector.*, lm_head.weight)
  full_strategy/     a variant with vision_feature_select_strategy "full" (the class token kept) and
                     num_additional_image_tokens 1, so the prompt gets 577 image tokens: only the files
                     that differ from native_format/ (config.json, processor_config.json; the script
                     checks that its model.safetensors is byte-identical to native_format's) and its
                     own golden.safetensors / golden.json from transformers 5.x
  golden.json        versions, the checks made, each layout's files and tensor names

The fixture's processor_config.json (4.46) has no num_additional_image_tokens; 4.46 always counted the
class token (+1), 5.x reads the missing field as 0 and would give 575 image tokens for 576 image
features, which its model refuses. The re-saved processors set it to 1, as the hub's llava-hf files do.

Usage (its own venv, pinned in tools/requirements-tf5.txt):
    .venv5/bin/python tools/resave_fixtures_tf5.py [--out tests/fixtures/llava_tf5]

Single-threaded on the CPU, a few seconds, deterministic (two runs give byte-identical files).
"""

import os

# First: importing fixture_common sets the single-thread, offline environment before torch loads.
import fixture_common  # noqa: F401

import argparse
import json
import platform
import shutil
import tempfile
from pathlib import Path

import PIL
import safetensors
import safetensors.torch
import tokenizers
import torch
import transformers
from PIL import Image
from safetensors import safe_open
from transformers import AutoProcessor, LlavaConfig, LlavaForConditionalGeneration

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
transformers.logging.set_verbosity_error()

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "llava"
NUM_NEW_TOKENS = 16
LOGITS_TOLERANCE = 1e-4  # 5.x against the 4.46 golden; the C++ tests allow 1e-3

# Each layout's tensor-name prefixes, checked against what save_pretrained wrote.
LAYOUT_PREFIXES = {
    "original_format": ("language_model.model.", "language_model.lm_head.", "vision_tower.vision_model.",
                        "multi_modal_projector."),
    "native_format": ("model.language_model.", "lm_head.", "model.vision_tower.embeddings.",
                      "model.vision_tower.encoder.", "model.vision_tower.pre_layrnorm.",
                      "model.vision_tower.post_layernorm.", "model.multi_modal_projector."),
}
SAVE_KWARGS = {"original_format": {}, "native_format": {"save_original_format": False}}


def versions():
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__, "pillow": PIL.__version__}


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def tensor_names(model_dir):
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        return sorted(f.keys())


def load(model_dir, config=None):
    kwargs = {"config": config} if config is not None else {}
    return LlavaForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation="eager",
                                                         dtype=torch.float32, **kwargs).eval()


def greedy(model, inputs):
    """Argmax decoding with full forwards (no KV cache): tokens and the smallest top-1/top-2 margin."""
    ids, tokens, margins = inputs["input_ids"], [], []
    with torch.no_grad():
        for _ in range(NUM_NEW_TOKENS):
            top2 = torch.topk(model(input_ids=ids, pixel_values=inputs["pixel_values"]).logits[0, -1], 2)
            tokens.append(int(top2.indices[0]))
            margins.append(float(top2.values[0] - top2.values[1]))
            ids = torch.cat([ids, top2.indices[:1].view(1, 1)], dim=1)
    return tokens, min(margins)


def run(model, processor, prompt, image):
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, -1]
    return inputs, logits


def check_reload(model_dir, inputs, logits, prompt, image):
    """The saved directory, loaded back by 5.x, gives the same ids, pixels and logits bit for bit."""
    processor = AutoProcessor.from_pretrained(str(model_dir))
    inputs2, logits2 = run(load(model_dir), processor, prompt, image)
    assert torch.equal(inputs2["input_ids"], inputs["input_ids"]), f"{model_dir}: reloaded ids differ"
    assert torch.equal(inputs2["pixel_values"], inputs["pixel_values"]), f"{model_dir}: reloaded pixels differ"
    assert torch.equal(logits2, logits), f"{model_dir}: reloaded logits differ"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "tests" / "fixtures" / "llava_tf5")
    args = parser.parse_args(argv)
    assert transformers.__version__.startswith("5."), f"needs transformers 5.x, found {transformers.__version__}"

    golden = safetensors.torch.load_file(str(FIXTURE / "golden.safetensors"))
    record = json.loads((FIXTURE / "golden.json").read_text())
    prompt = record["prompt"]["text"]
    image = Image.open(FIXTURE / "image.png")
    image.load()

    processor = AutoProcessor.from_pretrained(str(FIXTURE / "model"))
    assert processor.num_additional_image_tokens == 0  # the field is absent from the 4.46 file
    processor.num_additional_image_tokens = 1
    model = load(FIXTURE / "model")
    inputs, logits = run(model, processor, prompt, image)
    assert torch.equal(inputs["pixel_values"], golden["pixel_values"]), "5.x pixel values differ"
    assert torch.equal(inputs["input_ids"][0], golden["input_ids"]), "5.x prompt ids differ"
    logits_error = float((logits - golden["logits_last"]).abs().max())
    assert logits_error < LOGITS_TOLERANCE, f"5.x logits differ from the golden by {logits_error}"
    tokens, _ = greedy(model, inputs)
    assert tokens == golden["greedy_tokens"].tolist(), f"5.x greedy tokens {tokens} differ"

    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    layouts = {}
    for layout, kwargs in SAVE_KWARGS.items():
        model_dir = args.out / layout
        model.save_pretrained(str(model_dir), **kwargs)
        processor.save_pretrained(str(model_dir))
        names = tensor_names(model_dir)
        assert all(n.startswith(LAYOUT_PREFIXES[layout]) for n in names), f"{layout}: unexpected names"
        check_reload(model_dir, inputs, logits, prompt, image)
        layouts[layout] = {"save_pretrained": kwargs, "files": sorted(os.listdir(model_dir)),
                           "tensor_names": names}
    assert not (args.out / "native_format" / "preprocessor_config.json").exists()

    # The "full" variant: same weights, the class token kept, one more image token.
    config = LlavaConfig.from_pretrained(str(FIXTURE / "model"))
    config.vision_feature_select_strategy = "full"
    full_model = load(FIXTURE / "model", config)
    full_processor = AutoProcessor.from_pretrained(str(FIXTURE / "model"))
    full_processor.num_additional_image_tokens = 1
    full_processor.vision_feature_select_strategy = "full"
    full_inputs, full_logits = run(full_model, full_processor, prompt, image)
    n_image = int((full_inputs["input_ids"] == config.image_token_index).sum())
    assert n_image == 577, n_image
    full_tokens, margin = greedy(full_model, full_inputs)
    assert len(set(full_tokens)) >= 4 and margin > 5e-3, (full_tokens, margin)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp)
        full_model.save_pretrained(str(saved), save_original_format=False)
        full_processor.save_pretrained(str(saved))
        assert (saved / "model.safetensors").read_bytes() == \
            (args.out / "native_format" / "model.safetensors").read_bytes(), "full variant weights differ"
        check_reload(saved, full_inputs, full_logits, prompt, image)
        full_dir = args.out / "full_strategy"
        full_dir.mkdir()
        differing = [f for f in sorted(os.listdir(saved))
                     if (saved / f).read_bytes() != (args.out / "native_format" / f).read_bytes()]
        assert differing == ["config.json", "processor_config.json"], differing
        for f in differing:
            shutil.copyfile(saved / f, full_dir / f)
    full_golden = {"input_ids": full_inputs["input_ids"][0].to(torch.int64),
                   "logits_last": full_logits.float().contiguous(),
                   "greedy_tokens": torch.tensor(full_tokens, dtype=torch.int64)}
    safetensors.torch.save_file(full_golden, str(full_dir / "golden.safetensors"), metadata={"format": "pt"})
    pos = (full_inputs["input_ids"][0] == config.image_token_index).nonzero().flatten().tolist()
    write_json(full_dir / "golden.json", {
        "generator": "tools/resave_fixtures_tf5.py", "versions": versions(),
        "model": "native_format/ with this directory's config.json and processor_config.json",
        "changes": {"config.json": {"vision_feature_select_strategy": "full"},
                    "processor_config.json": {"vision_feature_select_strategy": "full",
                                              "num_additional_image_tokens": 1}},
        "prompt": {"text": prompt, "image": "../../llava/image.png", "num_tokens": len(full_inputs["input_ids"][0]),
                   "num_image_tokens": n_image, "image_token_positions": [pos[0], pos[-1] + 1]},
        "tensors": {"input_ids": "processor(images=image, text=prompt).input_ids[0]",
                    "logits_last": "model(**inputs).logits[0, -1], eager attention, float32",
                    "greedy_tokens": f"{NUM_NEW_TOKENS} tokens of argmax decoding with full forwards, EOS ignored"},
        "greedy": {"tokens": full_tokens, "min_top1_top2_logit_margin": margin},
    })
    write_json(args.out / "golden.json", {
        "generator": "tools/resave_fixtures_tf5.py", "versions": versions(),
        "source": "tests/fixtures/llava/model (transformers 4.46), loaded by transformers 5.x",
        "checks": {
            "pixel_values": "equal to tests/fixtures/llava/golden.safetensors",
            "input_ids": "equal, with num_additional_image_tokens set to 1",
            "logits_last_max_abs_error": logits_error,
            "greedy_tokens": "equal",
            "reload": "each saved directory loads back with identical ids, pixels and logits",
        },
        "golden": "tests/fixtures/llava/golden.safetensors for original_format/ and native_format/; "
                  "full_strategy/golden.safetensors for the variant",
        "layouts": layouts,
    })
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB); logits error against the 4.46 golden {logits_error:.2e}")


if __name__ == "__main__":
    main()
