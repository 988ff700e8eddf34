#!/usr/bin/env python3
"""Train a tiny LLaVA-format model on the synthetic shapes question set (tools/shapes_data.py).

The model is the real transformers `LlavaForConditionalGeneration` (tools/shapes_model.py): a CLIP
ViT (224 px, patch 14: 256 patch tokens + CLS), a 2-layer GELU projector and a Llama decoder, with a
LLaVA-1.5 style `LlavaProcessor`. It is trained from scratch on questions about coloured shapes
whose answers need specific image regions, so that token reduction inside the LLM (LightVLM) has
something to lose: this is the model the accuracy-retention numbers are measured on.

Steps (all in one run):
  1. build the tokenizer and processor (nothing is downloaded);
  2. write the evaluation sets <out>/eval (dev split) and <out>/test (test split);
  3. stage 1: train the vision tower alone on per-patch labels (tools/shapes_probes.py);
  4. stage 2: freeze it, train the projector and the language model on multi-turn conversations
     about each image, loss on the answers plus the word probes;
  5. save the model and processor with save_pretrained to <out>/model;
  6. evaluate the saved directory through the real processor and model.generate (greedy) on both
     sets (tools/shapes_eval.py), write <out>/results.json and <out>/README.md.

Usage:
    .venv/bin/python tools/train_shapes.py --out models/shapes                 # the committed model
    .venv/bin/python tools/train_shapes.py --out /tmp/shapes --steps 200       # a short run
    .venv/bin/python tools/train_shapes.py --out models/shapes --resume        # continue after a stop
    .venv/bin/python tools/train_shapes.py --out models/shapes --eval-only     # re-evaluate <out>/model

Deterministic under --seed on a given machine, thread count and library versions: the weights are
initialised after torch.manual_seed(seed), examples are pure functions of their seeds (stage 1 reads
train seeds from VISION_SEED_BASE, stage 2 example k of step s is train seed s * batch + k), no
dropout. CUDA is used when available (--device).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
sys.path.insert(0, str(TOOLS_DIR))
import shapes_data as sd  # noqa: E402
import shapes_eval  # noqa: E402
import shapes_model as sm  # noqa: E402
import shapes_readme  # noqa: E402
from shapes_probes import VisionProbe, WordProbe  # noqa: E402

transformers.logging.set_verbosity_error()
F = torch.nn.functional
VISION_SEED_BASE = 500_000_000  # stage 1 images: train seeds disjoint from stage 2's


def lr_at(step, steps, peak, warmup, min_ratio):
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def adamw(params, lr, weight_decay):
    params = list(params)
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-8)


def set_lr(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr


def vision_features(model, pix):
    """What the projector reads: the selected vision layer without CLS ("default" strategy)."""
    layer = model.config.vision_feature_layer
    return model.vision_tower(pix, output_hidden_states=True).hidden_states[layer][:, 1:]


def vision_batch(codec, probe, step, batch):
    pix, labels = [], []
    for k in range(batch):
        ex = sd.example(sd.split_seed("train", VISION_SEED_BASE + step * batch + k))
        pix.append(codec.pixels(ex["image"]))
        labels.append(probe.labels(ex["shapes"]))
    return torch.from_numpy(np.stack(pix)), torch.from_numpy(np.stack(labels))


def encoded_batch(codec, step, batch, turns, encode):
    """The `batch` training images of `step`, each with up to `turns` questions: (encode(qa) of each,
    target rows, target columns, pixels, scenes); encode returns a tuple whose last item is the
    positions of the tokens to predict."""
    encoded, rows, cols, pix, shapes = [], [], [], [], []
    for k in range(batch):
        ex = sd.example(sd.split_seed("train", step * batch + k), extra_questions=turns - 1)
        encoded.append(encode(ex["qa"]))
        rows += [k] * len(encoded[-1][-1])
        cols += encoded[-1][-1]
        pix.append(codec.pixels(ex["image"]))
        shapes.append(ex["shapes"])
    return encoded, torch.tensor(rows), torch.tensor(cols), torch.from_numpy(np.stack(pix)), shapes


def padded(lists, fill, length):
    """[len(lists), length] int64: each list, then `fill`."""
    out = torch.full((len(lists), length), fill, dtype=torch.long)
    for b, values in enumerate(lists):
        out[b, :len(values)] = torch.tensor(values)
    return out


def conversation_batch(codec, step, batch, turns):
    """Padded ids of `batch` multi-turn conversations, their answer positions and scenes."""
    encoded, rows, cols, pix, shapes = encoded_batch(codec, step, batch, turns, codec.conversation)
    ids_list = [ids for ids, _ in encoded]
    T = max(len(x) for x in ids_list)
    mask = padded([[1] * len(ids) for ids in ids_list], 0, T)
    return ids_list, padded(ids_list, codec.pad_id, T), mask, rows, cols, pix, shapes


def language_forward(model, ids, mask, features, image_id):
    """LlavaForConditionalGeneration.forward from given vision features, with hidden states
    (checked equal to model(...) in check_forward)."""
    emb = model.get_input_embeddings()(ids)
    image = model.multi_modal_projector(features)
    emb = emb.masked_scatter((ids == image_id).unsqueeze(-1).expand_as(emb), image.to(emb.dtype))
    return model.language_model(inputs_embeds=emb, attention_mask=mask, output_hidden_states=True)


def check_forward(model, codec, device):
    _, ids, mask, _, _, pix, _ = conversation_batch(codec, 0, 2, 3)
    ids, mask, pix = ids.to(device), mask.to(device), pix.to(device)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, pixel_values=pix).logits
        got = language_forward(model, ids, mask, vision_features(model, pix), codec.image_id).logits
    assert torch.allclose(ref, got, atol=1e-5, rtol=0), float((ref - got).abs().max())


class Trainer:
    """Both stages, with a state saved every few minutes that --resume continues from."""

    def __init__(self, args, processor, codec, device):
        self.args, self.codec, self.device = args, codec, device
        self.model = sm.build_model(args, processor, args.seed).to(device)
        self.vision_probe = VisionProbe(args.vision_hidden).to(device)
        self.word_probe = WordProbe(args.text_hidden, processor.tokenizer).to(device)
        check_forward(self.model, codec, device)
        self.vision_opt = adamw(list(self.model.vision_tower.parameters()) + list(self.vision_probe.parameters()),
                                args.vision_lr, args.weight_decay)
        self.language_opt = adamw(self.language_params(), args.lr, args.weight_decay)
        self.stage, self.step, self.log, self.elapsed = 1, 0, [], 0.0
        self.state_path = args.state_dir / "state.pt"
        self.log_path = args.state_dir / "log.jsonl"

    def language_params(self):
        return (list(self.model.multi_modal_projector.parameters()) +
                list(self.model.language_model.parameters()) + list(self.word_probe.parameters()))

    def stateful(self):
        """What the saved state holds besides stage, step, log and clock: objects with state_dict()
        and load_state_dict(), by name."""
        return {"model": self.model, "vision_probe": self.vision_probe, "word_probe": self.word_probe,
                "vision_opt": self.vision_opt, "language_opt": self.language_opt}

    def save(self):
        tmp = self.state_path.with_suffix(".tmp")
        state = {name: part.state_dict() for name, part in self.stateful().items()}
        torch.save({**state, "stage": self.stage, "step": self.step, "log": self.log, "elapsed": self.elapsed}, tmp)
        os.replace(tmp, self.state_path)

    def load(self):
        st = torch.load(self.state_path, map_location=self.device, weights_only=False)
        for name, part in self.stateful().items():
            part.load_state_dict(st[name])
        self.stage, self.step, self.log, self.elapsed = st["stage"], st["step"], st["log"], st["elapsed"]
        print(f"resumed from {self.state_path}: stage {self.stage}, step {self.step}", flush=True)

    def record(self, entry):
        entry["time_s"] = round(self.elapsed, 1)
        self.log.append(entry)
        print(json.dumps(entry), flush=True)
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def vision_step(self):
        a = self.args
        pix, labels = vision_batch(self.codec, self.vision_probe, self.step, a.vision_batch)
        set_lr(self.vision_opt, lr_at(self.step, a.vision_steps, a.vision_lr, a.warmup // 5, a.min_lr_ratio))
        loss, shape_accuracy = self.vision_probe.loss(vision_features(self.model, pix.to(self.device)),
                                                      labels.to(self.device))
        self.vision_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.vision_tower.parameters(), a.clip)
        self.vision_opt.step()
        return {"stage": 1, "step": self.step + 1, "patch_loss": round(float(loss), 4),
                "object_shape_accuracy": round(shape_accuracy, 4)}

    def language_step(self):
        a, dev = self.args, self.device
        ids_list, ids, mask, rows, cols, pix, shapes = conversation_batch(self.codec, self.step, a.batch, a.turns)
        ids, mask, rows, cols = ids.to(dev), mask.to(dev), rows.to(dev), cols.to(dev)
        with torch.no_grad():
            features = vision_features(self.model, pix.to(dev))
        out = language_forward(self.model, ids, mask, features, self.codec.image_id)
        loss = F.cross_entropy(out.logits[rows, cols - 1].float(), ids[rows, cols])
        prow, pcol, ptgt = self.word_probe.batch_targets(ids_list, shapes)
        probe = self.word_probe.loss(out.hidden_states[a.probe_layer], prow.to(dev), pcol.to(dev), ptgt.to(dev))
        set_lr(self.language_opt, lr_at(self.step, a.steps, a.lr, a.warmup, a.min_lr_ratio))
        self.language_opt.zero_grad(set_to_none=True)
        (loss + a.probe_weight * probe).backward()
        torch.nn.utils.clip_grad_norm_(self.language_params(), a.clip)
        self.language_opt.step()
        return {"stage": 2, "step": self.step + 1, "samples": (self.step + 1) * a.batch,
                "loss": round(float(loss), 4), "probe_loss": round(float(probe), 4)}

    def run(self, dev_items, dev_images):
        a = self.args
        t0 = self.start()
        while self.stage == 1 and self.step < a.vision_steps:
            self.timed_step(self.vision_step, t0, a.vision_steps)
        if self.stage == 1:
            self.stage, self.step = 2, 0
            self.save()
        self.model.vision_tower.requires_grad_(False)
        self.model.vision_tower.eval()

        def quick():
            accuracy = shapes_eval.quick_eval(self.model, self.codec, dev_items, dev_images, self.device)
            self.model.vision_tower.eval()
            return accuracy

        stop_reason = self.language_loop(t0, quick)
        return {"vision_steps": a.vision_steps, "vision_images": a.vision_steps * a.vision_batch,
                "steps_done": self.step, "samples_seen": self.step * a.batch, "stop_reason": stop_reason,
                "train_time_s": round(self.elapsed, 1), "parameters": sm.count_params(self.model)}

    # The loops below serve tools/train_shapes_smol.py's trainer too (it derives from this class).

    def start(self):
        """Loads the state under --resume, else starts a new log; returns the clock's origin."""
        if self.args.resume and self.state_path.exists():
            self.load()
        else:
            self.log_path.unlink(missing_ok=True)
        return time.time() - self.elapsed

    def timed_step(self, step_fn, t0, steps):
        entry = step_fn()
        self.step += 1
        self.elapsed = time.time() - t0
        if self.step % self.args.log_every == 0 or self.step == steps:
            self.record(entry)

    def language_loop(self, t0, quick_eval):
        """language_step until --steps, --stop-acc or --time-limit-min; saves every few minutes."""
        a = self.args
        last_save = time.time()
        stop_reason = "steps"
        while self.step < a.steps:
            entry = self.language_step()
            self.step += 1
            self.elapsed = time.time() - t0
            if self.step % a.eval_every == 0 or self.step == a.steps:
                entry["dev_quick"] = quick_eval()
                if a.stop_acc and entry["dev_quick"]["overall"] >= a.stop_acc:
                    stop_reason = f"dev_quick overall >= {a.stop_acc}"
            if a.time_limit_min and self.elapsed > 60 * a.time_limit_min:
                stop_reason = f"time limit {a.time_limit_min} min"
            if self.step % a.log_every == 0 or "dev_quick" in entry or stop_reason != "steps":
                self.record(entry)
            if time.time() - last_save > 60 * a.save_every_min or stop_reason != "steps":
                self.save()
                last_save = time.time()
            if stop_reason != "steps":
                break
        self.save()
        return stop_reason


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "shapes",
                    help="writes <out>/model, <out>/eval, <out>/test, <out>/results.json, <out>/README.md")
    ap.add_argument("--state-dir", type=Path, default=REPO_ROOT / "build-shapes",
                    help="training state and log (git-ignored by default)")
    ap.add_argument("--resume", action="store_true", help="continue from <state-dir>/state.pt")
    ap.add_argument("--eval-only", action="store_true", help="only evaluate <out>/model on <out>/eval and <out>/test")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0, help="weight initialisation")
    ap.add_argument("--dev-n", type=int, default=400, help="items in <out>/eval (dev split)")
    ap.add_argument("--test-n", type=int, default=400, help="items in <out>/test (test split)")
    sm.add_model_args(ap)
    ap.add_argument("--vision-steps", type=int, default=600, help="stage 1 steps")
    ap.add_argument("--vision-batch", type=int, default=32)
    ap.add_argument("--vision-lr", type=float, default=2e-3)
    ap.add_argument("--steps", type=int, default=4000, help="stage 2 steps")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--turns", type=int, default=8, help="questions per training image (1 = eval format only)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--probe-layer", type=int, default=2, help="word probes read the output of this layer")
    ap.add_argument("--probe-weight", type=float, default=1.0, help="0 turns the word probes off")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--quick-eval-n", type=int, default=400, help="dev items for the periodic first-token eval")
    ap.add_argument("--save-every-min", type=float, default=5.0)
    ap.add_argument("--stop-acc", type=float, default=0.0, help="stop once the periodic dev accuracy reaches this")
    ap.add_argument("--time-limit-min", type=float, default=0.0, help="stop training after this many minutes")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device(args.device)
    out, model_dir = args.out, args.out / "model"
    if args.eval_only:
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        shapes_eval.evaluate_all(results, model_dir, out, device)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        shapes_readme.write(out, results)
        return 0

    processor = sm.build_processor()
    codec = sm.Codec(processor)
    out.mkdir(parents=True, exist_ok=True)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    for name, split, n in (("eval", "dev", args.dev_n), ("test", "test", args.test_n)):
        if (out / name).exists():
            shutil.rmtree(out / name)
        sd.write_split(out / name, split, n)

    trainer = Trainer(args, processor, codec, device)
    train_info = trainer.run(*shapes_eval.split_items("dev", args.quick_eval_n))
    model = trainer.model.eval()
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.save_pretrained(str(model_dir), safe_serialization=True)
    processor.save_pretrained(str(model_dir))
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    shutil.copyfile(trainer.log_path, out / "train_log.jsonl")

    results = {"train": train_info, "checkpoint_bytes": size,
               "command": " ".join([shapes_readme.shown_path(sys.executable), *sys.argv]),
               "device": str(device), "threads": args.threads, "cpu": shapes_readme.cpu_name(),
               "versions": shapes_readme.versions(), "args": {k: str(v) for k, v in vars(args).items()},
               "config": shapes_readme.config_summary(model.config)}
    shapes_eval.evaluate_all(results, model_dir, out, device)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    shapes_readme.write(out, results)
    print(f"wrote {model_dir} ({size / 1e6:.2f} MB), {out / 'results.json'}, {out / 'README.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
