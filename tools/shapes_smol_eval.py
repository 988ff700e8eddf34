#!/usr/bin/env python3
"""Accuracy of the shapes_smol model: a first-token check during training (quick_eval) and the real
thing (evaluate_dir): the built directory through its processor and greedy model.generate, exact
match after normalisation, per question kind (tools/shapes_eval.py's rules).

Usage (.venv5):
    .venv5/bin/python tools/shapes_smol_eval.py models/shapes_smol/model models/shapes_smol/test/questions.jsonl
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from PIL import Image
from transformers import SmolVLMForConditionalGeneration

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes_data as sd  # noqa: E402
import shapes_smol_model as smm  # noqa: E402
from make_smolvlm_fixture import FixtureProcessor  # noqa: E402
from shapes_eval import score, split_items, summarize  # noqa: E402, F401


@torch.no_grad()
def quick_eval(model, codec, items, images, batch=25):
    """Accuracy of the first generated token (every answer is one token), bfloat16 autocast."""
    correct = {k: [0, 0] for k in sd.KINDS}
    for s in range(0, len(items), batch):
        prompts = [codec.prompt(it["question"]) for it in items[s:s + batch]]
        T = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), T), codec.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), T), dtype=torch.long)
        for b, p in enumerate(prompts):
            ids[b, :len(p)] = torch.tensor(p)
            mask[b, :len(p)] = 1
        pix = torch.stack([torch.from_numpy(codec.pixels(im)) for im in images[s:s + batch]])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hidden, _ = smm.language_forward(model, ids, mask, pix, codec.image_id)
            last = hidden[torch.arange(len(prompts)), mask.sum(1) - 1]
            pred = model.lm_head(last).argmax(-1).tolist()
        for it, p in zip(items[s:s + batch], pred):
            c = correct[it["kind"]]
            c[0] += int(p == codec.answer[it["answer"]][0])
            c[1] += 1
    return summarize(correct)


@torch.no_grad()
def evaluate_dir(model_dir, jsonl, device=None, limit=None, batch=16):
    """(accuracy by kind, wrong answers); on the CPU (`device` is evaluate_all's argument)."""
    processor = FixtureProcessor.from_pretrained(str(model_dir))
    processor.tokenizer.padding_side = "left"
    model = SmolVLMForConditionalGeneration.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    items = sd.read_jsonl(jsonl)[:limit]
    correct = {k: [0, 0] for k in sd.KINDS}
    wrong = []
    for s in range(0, len(items), batch):
        chunk = items[s:s + batch]
        images = [[Image.open(Path(jsonl).parent / it["image"]).convert("RGB")] for it in chunk]
        prompts = [processor.tokenizer.apply_chat_template(
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": it["question"]}]}],
            add_generation_prompt=True, tokenize=False) for it in chunk]
        inputs = processor(images=images, text=prompts, return_tensors="pt", padding=True)
        out = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=4)
        for it, row in zip(chunk, out[:, inputs["input_ids"].shape[1]:]):
            score(it, processor.tokenizer.decode(row, skip_special_tokens=True), correct, wrong)
    return summarize(correct), wrong


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("questions", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    acc, _ = evaluate_dir(args.model_dir, args.questions, limit=args.limit)
    print(json.dumps(acc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
