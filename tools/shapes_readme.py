#!/usr/bin/env python3
"""models/shapes/README.md from the measured results of a training run (results.json), and the
facts about the run that go into results.json."""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
sys.path.insert(0, str(TOOLS_DIR))
import shapes_data as sd  # noqa: E402


def versions():
    import PIL
    import safetensors
    import tokenizers
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def shown_path(path):
    try:
        return str(Path(path).relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config_summary(cfg):
    v, t = cfg.vision_config, cfg.text_config
    return {
        "vision": {k: getattr(v, k) for k in ("image_size", "patch_size", "hidden_size", "intermediate_size",
                                              "num_hidden_layers", "num_attention_heads", "hidden_act")},
        "text": {k: getattr(t, k) for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                            "num_attention_heads", "num_key_value_heads", "rope_theta",
                                            "tie_word_embeddings")},
        "image_token_index": cfg.image_token_index, "image_seq_length": cfg.image_seq_length,
        "vision_feature_layer": cfg.vision_feature_layer,
        "vision_feature_select_strategy": cfg.vision_feature_select_strategy,
        "projector_hidden_act": cfg.projector_hidden_act,
    }


def write(out, r):
    """<out>/README.md from the measured results (results.json)."""
    c, tr, a = r["config"], r["train"], r["args"]
    v, t = c["vision"], c["text"]
    kinds = list(sd.KINDS) + ["overall"]

    def row(name):
        acc = r[name]
        return f"| {name} ({acc['n']} items) | " + " | ".join(f"{100 * acc[k]:.1f}%" for k in kinds) + " |"

    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x.strip()]
    curve = [e for e in log if "dev_quick" in e]
    pick = curve if len(curve) <= 12 else [curve[round(i * (len(curve) - 1) / 11)] for i in range(12)]
    curve_rows = "\n".join(f"| {e['step']} | {e['samples']} | {e['time_s'] / 60:.0f} | {e['loss']:.3f} | "
                            f"{100 * e['dev_quick']['overall']:.1f}% |" for e in pick)
    hours = tr["train_time_s"] / 3600
    text = f"""# shapes: a tiny LLaVA trained on synthetic shape questions

A `LlavaForConditionalGeneration` checkpoint (CLIP ViT + 2-layer GELU projector + Llama), trained
from scratch by `tools/train_shapes.py` on questions about coloured shapes that need specific image
regions. It is the model lightvlm measures the accuracy retention of token reduction on: a model
whose image tokens and attention mean something, small enough for the C++ tests and for CPUs.
This file is written by the training script from `results.json`; every number below was measured
by that run.

## Task

224x224 images, white background, 2 to 5 non-overlapping shapes (circle, square, triangle, star;
red, green, blue, yellow, purple, orange; 30 to 50 px), each inside one quadrant. One-word answers.
See `tools/shapes_data.py` for the exact rules.

| kind | example | answers |
|---|---|---|
| colour | What colour is the triangle? (the shape is unique) | red green blue yellow purple orange |
| count | How many circles are there? | zero one two three |
| left | Is the square left of the star? (both unique) | yes no |
| quadrant | What shape is in the top-left corner? (one shape there) | circle square triangle star |

Prompt (llava-1.5 chat template, `chat_template.json`): `USER: <image>\\n{{question}} ASSISTANT:`; the
answer is generated greedily and ends with `</s>`. Exact match after lowercasing and removing
punctuation. Chance is about 29% overall (1/6, 1/4, 1/2, 1/4).

## Files

* `model/`: the checkpoint, as `save_pretrained` writes it (float32 safetensors,
  {r['checkpoint_bytes'] / 1e6:.1f} MB with the processor files), loadable with
  `LlavaForConditionalGeneration.from_pretrained` and `AutoProcessor.from_pretrained`.
* `eval/`: the **dev** set (seeds {sd.DEV_BASE} + i): `questions.jsonl` (`image` relative to
  the JSONL, `question`, `answer`, `kind`, plus `seed` and the scene `shapes`) and `images/*.png`.
  Use it to tune token reduction.
* `test/`: the **test** set (seeds {sd.TEST_BASE} + i), same layout. Keep it for final numbers
  only, so that tuning does not overfit it.
* `results.json`: accuracies, wrong answers, command, versions, config; `train_log.jsonl`: the
  training log (loss, periodic dev accuracy of the first generated token).

## Model

| part | configuration | parameters |
|---|---|---|
| vision tower | CLIP ViT, {v['image_size']} px, patch {v['patch_size']} ({(v['image_size'] // v['patch_size']) ** 2} patches + CLS), hidden {v['hidden_size']}, MLP {v['intermediate_size']}, {v['num_hidden_layers']} layers, {v['num_attention_heads']} heads, {v['hidden_act']} | {tr['parameters']['vision_tower']:,} |
| projector | linear {v['hidden_size']}->{t['hidden_size']}, GELU, linear {t['hidden_size']}->{t['hidden_size']}; features of vision layer {c['vision_feature_layer']}, strategy `{c['vision_feature_select_strategy']}` (CLS dropped): {c['image_seq_length']} image tokens | {tr['parameters']['multi_modal_projector']:,} |
| language model | Llama, hidden {t['hidden_size']}, MLP {t['intermediate_size']} (SiLU), {t['num_hidden_layers']} layers, {t['num_attention_heads']} heads / {t['num_key_value_heads']} KV heads, RoPE theta {t['rope_theta']:g}, vocab {t['vocab_size']}, untied head | {tr['parameters']['language_model']:,} |
| total | | {tr['parameters']['total']:,} |

Tokenizer: SentencePiece-style BPE with byte fallback (the layout of a converted Llama-2
`tokenizer.json`), trained on the task's text so that every word is one token; `<unk>` 0, `<s>` 1,
`</s>` 2, bytes 3..258, `<image>` = `image_token_index` {c['image_token_index']}, `<pad>` after it.
Processor: `LlavaProcessor` with `CLIPImageProcessor` (shortest edge 224, bicubic, center crop 224,
CLIP mean/std), `patch_size` 14 and strategy `default`, so it expands `<image>` into
{c['image_seq_length']} tokens (transformers {r['versions']['transformers']}).

## Training

```sh
{r['command']}
```

From scratch, in two stages (`tools/shapes_probes.py` has the training-only probes; none of
them is part of the checkpoint):

1. Vision tower alone: {tr['vision_steps']} steps of {a['vision_batch']} images ({tr['vision_images']:,} images), a linear
   probe on the features the projector reads predicts for every patch the shape and colour
   covering it, which shape's centre it holds, its quadrant, row and column.
2. Vision tower frozen; projector and language model: {tr['steps_done']} steps of {a['batch']} images
   ({tr['samples_seen']:,} images, drawn on the fly from the train seed range). Each image carries up to
   {a['turns']} questions as a multi-turn conversation (`USER: <image>\\nQ1 ASSISTANT: A1</s>USER: Q2
   ASSISTANT: A2</s>...`; the first turn is exactly the evaluation prompt), loss on answer tokens
   and `</s>`, plus word probes (weight {a['probe_weight']}) on the output of language layer {a['probe_layer']} at
   each shape, quadrant and colour word: what that word names in this image (count, colour,
   position of a shape; the shape in a quadrant). Extra turns also use three easier kinds
   (colour of the shape in a quadrant, "Is there a red shape?", "How many shapes are there?").
   Language and projector weights start from N(0, {a['init_std']}), RoPE theta {a['rope_theta']}.

Trained end to end with transformers' defaults and a shorter stage 1, the model stayed near chance:
its vision tower could not yet tell shapes apart (see tools/README.md).

* AdamW (betas 0.9/0.98, weight decay {a['weight_decay']}), peak LR {a['lr']}, {a['warmup']} warmup steps (stage 1: LR {a['vision_lr']}), cosine to
  {a['min_lr_ratio']} of the peak, gradient clipping {a['clip']}, float32.
* Hardware: {r['device']}, {r['threads']} thread(s) ({r['cpu']}), shared with other jobs. Training
  time {tr['train_time_s'] / 60:.0f} min ({hours:.1f} h); stop reason: {tr['stop_reason']}.

Dev accuracy during training (first generated token, {curve[-1]['dev_quick']['n'] if curve else 0} dev items):

| step | images | minutes | train loss | dev accuracy |
|---|---|---|---|---|
{curve_rows}

## Accuracy

Greedy `model.generate` through the saved `AutoProcessor` and model (`results.json`):

| set | {' | '.join(kinds)} |
|---|{'---|' * len(kinds)}
{row('eval')}
{row('test')}

Evaluation took {r['eval_time_s']:.0f} s. Versions: {', '.join(f'{k} {v}' for k, v in r['versions'].items())}.

## Reproducing

The run is deterministic for a given machine, thread count and library versions (the data are a pure
function of the seed; weights are initialised after `torch.manual_seed`; no dropout). To continue an
interrupted run: add `--resume` (state in `--state-dir`, default `build-shapes/`, saved every few minutes). To
re-evaluate: `--eval-only`. See tools/README.md.
"""
    (out / "README.md").write_text(text, encoding="utf-8")
