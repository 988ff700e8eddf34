#!/usr/bin/env python3
"""Accuracy of a shapes model: a fast first-token check used during training (quick_eval), and the
real thing (evaluate_dir): the saved directory through AutoProcessor and greedy model.generate on a
questions.jsonl set, exact match after normalisation, per question kind.

Usage:
    .venv/bin/python tools/shapes_eval.py models/shapes/model models/shapes/eval/questions.jsonl
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoProcessor, LlavaForConditionalGeneration

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes_data as sd  # noqa: E402

def prompt_batch(codec, items, images):
    """Left-padded prompts (all prompts here have nearly the same length) for a fast first-token eval."""
    prompts = [codec.prompt(it["question"]) for it in items]
    T = max(len(p) for p in prompts)
    input_ids = torch.full((len(items), T), codec.pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), T), dtype=torch.long)
    for b, p in enumerate(prompts):
        input_ids[b, T - len(p):] = torch.tensor(p)
        mask[b, T - len(p):] = 1
    pix = torch.from_numpy(np.stack([codec.pixels(im) for im in images]))
    return input_ids, mask, pix


def split_items(split, n):
    """The first n examples of a split as evaluation items, in memory (identical to the files)."""
    items, images = [], []
    for i in range(n):
        ex = sd.example(sd.split_seed(split, i))
        kind, q, a = ex["qa"][0]
        items.append({"question": q, "answer": a, "kind": kind})
        images.append(ex["image"])
    return items, images


@torch.no_grad()
def quick_eval(model, codec, items, images, device, batch=50):
    """Accuracy of the first generated token (= greedy answer: all answers are one token)."""
    model.eval()
    correct = {k: [0, 0] for k in sd.KINDS}
    for s in range(0, len(items), batch):
        ids, mask, pix = prompt_batch(codec, items[s:s + batch], images[s:s + batch])
        pos = torch.arange(ids.shape[1]).unsqueeze(0) - (1 - mask).sum(1, keepdim=True)
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), pixel_values=pix.to(device),
                       position_ids=pos.clamp(min=0).to(device), num_logits_to_keep=1).logits[:, -1]
        pred = logits.argmax(-1).cpu().tolist()
        for it, p in zip(items[s:s + batch], pred):
            c = correct[it["kind"]]
            c[0] += int(p == codec.answer[it["answer"]][0])
            c[1] += 1
    model.train()
    return summarize(correct)


def summarize(correct):
    out = {k: round(c[0] / c[1], 4) for k, c in correct.items() if c[1]}
    out["overall"] = round(sum(c[0] for c in correct.values()) / sum(c[1] for c in correct.values()), 4)
    out["n"] = sum(c[1] for c in correct.values())
    return out


def normalize_answer(s):
    return re.sub(r"[^\w\s-]", "", s.lower()).strip()


@torch.no_grad()
def evaluate_dir(model_dir, jsonl, device, limit=None):
    processor = AutoProcessor.from_pretrained(str(model_dir))
    model = LlavaForConditionalGeneration.from_pretrained(str(model_dir), torch_dtype=torch.float32).to(device).eval()
    items = sd.read_jsonl(jsonl)[:limit]
    correct = {k: [0, 0] for k in sd.KINDS}
    wrong = []
    for it in items:
        image = Image.open(Path(jsonl).parent / it["image"]).convert("RGB")
        conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": it["question"]}]}]
        prompt = processor.apply_chat_template(conv, add_generation_prompt=True)
        inputs = processor(images=image, text=prompt, return_tensors="pt").to(device)
        out = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=8)
        text = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        score(it, text, correct, wrong)
    return summarize(correct), wrong


def score(item, text, correct, wrong):
    """Counts the generated `text` for `item` into correct[kind] = [right, total] and `wrong`."""
    ok = normalize_answer(text) == normalize_answer(item["answer"])
    c = correct[item["kind"]]
    c[0] += int(ok)
    c[1] += 1
    if not ok:
        wrong.append({"image": item["image"], "question": item["question"], "answer": item["answer"],
                      "prediction": text})


def evaluate_all(results, model_dir, out, device, evaluate=None):
    """Accuracy of <model_dir> on <out>/eval and <out>/test, into `results`; `evaluate(model_dir,
    jsonl, device)` is evaluate_dir unless given (tools/shapes_smol_eval.py's model)."""
    t = time.time()
    for name in ("eval", "test"):
        acc, wrong = (evaluate or evaluate_dir)(model_dir, out / name / "questions.jsonl", device)
        results[name] = acc
        results[f"{name}_wrong"] = wrong
        print(name, json.dumps(acc), flush=True)
    results["eval_time_s"] = round(time.time() - t, 1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    acc, wrong = evaluate_dir(args.model_dir, args.questions, torch.device("cpu"), args.limit)
    print(json.dumps(acc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
