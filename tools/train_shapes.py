#!/usr/bin/env python3
"""Train a tiny LLaVA-format model on the synthetic shapes question set (tools/shapes_data.py).

The model is the real transformers `LlavaForConditionalGeneration`: a CLIP ViT (224 px, patch 14:
256 patch tokens + CLS), a 2-layer GELU projector and a Llama decoder, with a LLaVA-1.5 style
`LlavaProcessor` (CLIPImageProcessor + a SentencePiece-style Llama tokenizer trained here with the
`tokenizers` library). It is trained from scratch on questions about coloured shapes whose answers
need specific image regions, so that token reduction inside the LLM (LightVLM) has something to
lose: this is the model the accuracy-retention numbers are measured on.

Steps (all in one run):
  1. build the tokenizer and processor (nothing is downloaded);
  2. write the evaluation sets <out>/eval (dev split) and <out>/test (test split): PNG images and
     questions.jsonl, from disjoint seed ranges (see shapes_data.py);
  3. train on examples drawn on the fly from the train seed range, loss on answer tokens only;
     a training state is saved every few minutes under --state-dir, and --resume continues from it
     bit-identically;
  4. save the model and processor with save_pretrained to <out>/model;
  5. evaluate the saved directory through the real processor and model.generate (greedy) on both
     sets, write <out>/results.json (overall and per-kind exact match).

Usage:
    .venv/bin/python tools/train_shapes.py --out models/shapes                 # defaults used for the commit
    .venv/bin/python tools/train_shapes.py --out /tmp/shapes --steps 200       # a short run
    .venv/bin/python tools/train_shapes.py --out models/shapes --resume        # continue after a stop
    .venv/bin/python tools/train_shapes.py --out models/shapes --eval-only     # re-evaluate <out>/model
    .venv/bin/python tools/train_shapes.py --bench                              # measure samples/s

Deterministic under --seed on a given machine, thread count and library versions: the weights are
initialised after torch.manual_seed(seed), example k of training step s is drawn from seed
s * batch + k of the train range, no dropout or other randomness is used. CUDA is used when
available (--device).
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import argparse
import json
import math
import platform
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoProcessor,
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    LlamaConfig,
    LlamaTokenizerFast,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

TOOLS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TOOLS_DIR.parent
sys.path.insert(0, str(TOOLS_DIR))
import shapes_data as sd  # noqa: E402

transformers.logging.set_verbosity_error()

# The template of llava-hf/llava-1.5-7b-hf (the same string as tools/make_fixtures.py uses):
# one user turn with an image renders as "USER: <image>\n{question} ASSISTANT:".
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}"
    "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', "
    "'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] "
    "!= 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | "
    "selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
PATCH = 14
NUM_IMAGE_TOKENS = (sd.IMAGE_SIZE // PATCH) ** 2  # 256 ("default" strategy drops CLS)
SPECIALS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2 as in Llama-2; then <0x00>..<0xFF> at 3..258


# ------------------------------------------------------------------------------------------
# Tokenizer and processor

def tokenizer_corpus():
    """The text segments the model sees, formatted as they are tokenized (deterministic), except that
    "?" and the plural "s" are left out: no merge then joins them to a word, so "triangle", "triangle?"
    and "triangles" share the token "▁triangle" (then "?" or "s"), which the model learns once."""
    singular = {pl: sg for sg, pl in sd.PLURAL.items()}

    def strip(q):
        return " ".join(singular.get(w, w) for w in q.replace("?", "").split(" "))

    lines = ["USER: ", "USER:", "ASSISTANT:", "?"]
    for q in sd.all_questions():
        for a in sd.all_answers():
            lines.append(f"\n{strip(q)} ASSISTANT: {a}")
            lines.append(f"USER: {strip(q)} ASSISTANT: {a}")
    return lines


def build_tokenizer():
    """SentencePiece-style BPE with byte fallback, laid out like a converted Llama-2 tokenizer.json
    (the construction of tools/make_fixtures.py's llama tokenizer, trained on this task's text until
    every word is one piece), plus <image> and <pad> as added special tokens."""
    tmp = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tmp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=SPECIALS, show_progress=False)
    tmp.train_from_iterator(tokenizer_corpus(), trainer=trainer)
    trained = json.loads(tmp.to_str())["model"]

    vocab = {}
    for t in SPECIALS:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for tok, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if tok not in vocab:
            vocab[tok] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])

    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, legacy=True,
                              clean_up_tokenization_spaces=False, model_max_length=1024,
                              chat_template=LLAVA_CHAT_TEMPLATE)
    fast.add_tokens([AddedToken("<image>", special=True, normalized=False)], special_tokens=True)
    fast.add_special_tokens({"pad_token": AddedToken("<pad>", special=True, normalized=False)})
    return fast


def build_processor():
    tokenizer = build_tokenizer()
    image_processor = CLIPImageProcessor(
        do_resize=True, size={"shortest_edge": sd.IMAGE_SIZE}, resample=3, do_center_crop=True,
        crop_size={"height": sd.IMAGE_SIZE, "width": sd.IMAGE_SIZE}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=CLIP_MEAN, image_std=CLIP_STD, do_convert_rgb=True)
    return LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=PATCH,
                          vision_feature_select_strategy="default", image_token="<image>",
                          chat_template=LLAVA_CHAT_TEMPLATE)


def prompt_text(question):
    """What processor.apply_chat_template gives for one user turn with an image (checked in Codec)."""
    return f"USER: <image>\n{question} ASSISTANT:"


class Codec:
    """Builds token ids and pixels for training without going through the processor, from cached
    pieces; checks on construction that the pieces reproduce the real tokenizer and processor."""

    def __init__(self, processor):
        self.processor = processor
        tok = self.tok = processor.tokenizer
        self.image_id = tok.convert_tokens_to_ids("<image>")
        self.pad_id = tok.pad_token_id
        self.bos_id, self.eos_id = tok.bos_token_id, tok.eos_token_id
        enc = lambda s: tok(s, add_special_tokens=False).input_ids  # noqa: E731
        self.head = [self.bos_id] + enc("USER: ") + [self.image_id] * NUM_IMAGE_TOKENS
        self.first_q = {q: enc(f"\n{q} ASSISTANT:") for q in sd.all_questions()}
        self.next_q = {q: enc(f"USER: {q} ASSISTANT:") for q in sd.all_questions()}
        self.answer = {a: enc(a) for a in sd.all_answers()}
        for a, ids in self.answer.items():
            assert len(ids) == 1, f"answer {a!r} is {len(ids)} tokens: {tok.convert_ids_to_tokens(ids)}"
        self.answer_ids = sorted(ids[0] for ids in self.answer.values())
        self.mean = np.array(CLIP_MEAN, dtype=np.float32)
        self.std = np.array(CLIP_STD, dtype=np.float32)
        self._check()

    def conversation(self, qa):
        """ids of "USER: <image>x256\\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>..." and the
        positions of the supervised tokens (each answer token and each </s>)."""
        ids = list(self.head)
        targets = []
        for i, (_, q, a) in enumerate(qa):
            ids += (self.first_q if i == 0 else self.next_q)[q]
            targets.append(len(ids))
            ids += self.answer[a]
            targets.append(len(ids))
            ids.append(self.eos_id)
        return ids, targets

    def prompt(self, question):
        return self.head + self.first_q[question]

    def pixels(self, image):
        """CLIPImageProcessor's arithmetic for a 224x224 RGB image (its resize and crop are identity):
        float64(x) * (1/255) -> float32, then (x - mean) / std in float32; CHW."""
        x = (np.asarray(image, dtype=np.uint8).astype(np.float64) * (1 / 255)).astype(np.float32)
        x = (x - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def _check(self):
        tok, proc = self.tok, self.processor
        for seed in range(64):
            ex = sd.example(seed, extra_questions=3)
            kind, q, a = ex["qa"][0]
            conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
            rendered = proc.apply_chat_template(conv, add_generation_prompt=True)
            assert rendered == prompt_text(q), repr(rendered)
            inputs = proc(images=ex["image"], text=rendered, return_tensors="pt")
            assert inputs["input_ids"][0].tolist() == self.prompt(q), "prompt ids differ from the processor's"
            assert np.array_equal(inputs["pixel_values"][0].numpy(), self.pixels(ex["image"])), \
                "pixels differ from the processor's"
            text = prompt_text(q).replace("<image>", "<image>" * NUM_IMAGE_TOKENS) + f" {a}</s>"
            text += "".join(f"USER: {q2} ASSISTANT: {a2}</s>" for _, q2, a2 in ex["qa"][1:])
            ids, targets = self.conversation(ex["qa"])
            assert tok(text).input_ids == ids, "conversation ids differ from the tokenizer's"
            for j, (_, _, a2) in enumerate(ex["qa"]):
                assert ids[targets[2 * j]] == self.answer[a2][0] and ids[targets[2 * j + 1]] == self.eos_id


# ------------------------------------------------------------------------------------------
# Model

def build_model(args, processor, seed):
    tok = processor.tokenizer
    vocab = 64 * math.ceil(len(tok) / 64)
    vision = CLIPVisionConfig(
        hidden_size=args.vision_hidden, intermediate_size=4 * args.vision_hidden,
        projection_dim=args.vision_hidden, num_hidden_layers=args.vision_layers,
        num_attention_heads=args.vision_heads, num_channels=3, image_size=sd.IMAGE_SIZE, patch_size=PATCH,
        hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text = LlamaConfig(
        vocab_size=vocab, hidden_size=args.text_hidden, intermediate_size=args.text_intermediate,
        num_hidden_layers=args.text_layers, num_attention_heads=args.text_heads,
        num_key_value_heads=args.text_kv_heads, hidden_act="silu", max_position_embeddings=512,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
        mlp_bias=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, initializer_range=0.02, torch_dtype="float32")
    cfg = LlavaConfig(vision_config=vision, text_config=text,
                      image_token_index=tok.convert_tokens_to_ids("<image>"), projector_hidden_act="gelu",
                      vision_feature_select_strategy="default", vision_feature_layer=args.vision_feature_layer,
                      image_seq_length=NUM_IMAGE_TOKENS, tie_word_embeddings=False, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration._from_config(cfg, attn_implementation="sdpa", torch_dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id, do_sample=False, max_new_tokens=8)
    return model


def count_params(model):
    n = {"vision_tower": 0, "multi_modal_projector": 0, "language_model": 0}
    for name, p in model.named_parameters():
        n[name.split(".")[0]] += p.numel()
    n["total"] = sum(n.values())
    return n


# ------------------------------------------------------------------------------------------
# Data

def train_batch(codec, step, batch, turns):
    ids_list, tgt_list, pix, labels = [], [], [], []
    for k in range(batch):
        ex = sd.example(sd.split_seed("train", step * batch + k), extra_questions=turns - 1)
        ids, targets = codec.conversation(ex["qa"])
        ids_list.append(ids)
        tgt_list.append(targets)
        pix.append(codec.pixels(ex["image"]))
        labels.append(np.stack(sd.patch_labels(ex["shapes"], PATCH)).reshape(4, -1))
    T = max(len(x) for x in ids_list)
    input_ids = torch.full((batch, T), codec.pad_id, dtype=torch.long)
    mask = torch.zeros((batch, T), dtype=torch.long)
    rows, cols = [], []
    for b, (ids, targets) in enumerate(zip(ids_list, tgt_list)):
        input_ids[b, :len(ids)] = torch.tensor(ids)
        mask[b, :len(ids)] = 1
        rows += [b] * len(targets)
        cols += targets
    return (input_ids, mask, torch.from_numpy(np.stack(pix)), torch.tensor(rows), torch.tensor(cols),
            torch.from_numpy(np.stack(labels)))


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


# ------------------------------------------------------------------------------------------
# Training

def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def make_optimizer(model, aux_head, args):
    decay, no_decay = [], []
    for name, p in list(model.named_parameters()) + [("aux." + n, p) for n, p in aux_head.named_parameters()]:
        (decay if p.ndim >= 2 and "embed" not in name else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=args.lr, betas=(0.9, 0.98), eps=1e-8)


GRID = sd.IMAGE_SIZE // PATCH
# shape, colour, shape centre (shape + 1 or 0), quadrant, row, column
AUX_CLASSES = (1 + len(sd.SHAPES), 1 + len(sd.COLOURS), 1 + len(sd.SHAPES), 4, GRID, GRID)


def make_aux_head(args):
    """Training-only linear probe on the vision features that go to the projector: for every patch,
    the shape and the colour covering it (or background), the shape whose centre it holds (or none),
    its quadrant, row and column. Dense supervision
    for the vision tower; not part of the saved model."""
    return torch.nn.Linear(args.vision_hidden, sum(AUX_CLASSES))


def forward_train(model, ids, mask, pix, image_id):
    """LlavaForConditionalGeneration.forward, spelled out to also return the vision features
    (checked equal to model(...) in check_forward)."""
    cfg = model.config
    hidden = model.vision_tower(pix, output_hidden_states=True).hidden_states[cfg.vision_feature_layer][:, 1:]
    feats = model.multi_modal_projector(hidden)
    emb = model.get_input_embeddings()(ids)
    emb = emb.masked_scatter((ids == image_id).unsqueeze(-1).expand_as(emb), feats.to(emb.dtype))
    logits = model.language_model(inputs_embeds=emb, attention_mask=mask).logits
    return logits, hidden


def check_forward(model, codec, device):
    ids, mask, pix, _, _, _ = train_batch(codec, 0, 2, 3)
    ids, mask, pix = ids.to(device), mask.to(device), pix.to(device)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, pixel_values=pix).logits
        got, _ = forward_train(model, ids, mask, pix, codec.image_id)
    assert torch.allclose(ref, got, atol=1e-5, rtol=0), float((ref - got).abs().max())


def train_step(model, aux_head, opt, codec, step, args, device):
    ids, mask, pix, rows, cols, labels = train_batch(codec, step, args.batch, args.turns)
    ids, mask, pix, rows, cols = ids.to(device), mask.to(device), pix.to(device), rows.to(device), cols.to(device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
        logits, hidden = forward_train(model, ids, mask, pix, codec.image_id)
    loss = torch.nn.functional.cross_entropy(logits[rows, cols - 1].float(), ids[rows, cols])
    aux = torch.zeros((), device=device)
    if args.aux_weight > 0:
        b = pix.shape[0]
        pos = torch.arange(GRID * GRID, device=device)
        labels = labels.to(device)
        targets = [labels[:, 0], labels[:, 1], labels[:, 2], labels[:, 3],
                   (pos // GRID).expand(b, -1), (pos % GRID).expand(b, -1)]
        out = aux_head(hidden.float()).split(AUX_CLASSES, dim=-1)
        aux = sum(torch.nn.functional.cross_entropy(o.reshape(-1, o.shape[-1]), t.reshape(-1))
                  for o, t in zip(out, targets)) / len(out)
    lr = lr_at(step, args)
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    (loss + args.aux_weight * aux).backward()
    gnorm = torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(aux_head.parameters()), args.clip)
    opt.step()
    return float(loss), float(aux), float(gnorm)


def save_state(path, model, aux_head, opt, step, log, args):
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "aux_head": aux_head.state_dict(), "opt": opt.state_dict(),
                "step": step, "log": log, "args": {k: str(v) for k, v in vars(args).items()}}, tmp)
    os.replace(tmp, path)


def log_line(entry, log, log_path):
    log.append(entry)
    print(json.dumps(entry), flush=True)
    if log_path is not None:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def train(args, processor, codec, device):
    state_dir = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    state_path, log_path = state_dir / "state.pt", state_dir / "log.jsonl"
    model = build_model(args, processor, args.seed).to(device)
    aux_head = make_aux_head(args).to(device)
    model.train()
    check_forward(model, codec, device)
    opt = make_optimizer(model, aux_head, args)
    step, log, elapsed0 = 0, [], 0.0
    if args.resume and state_path.exists():
        st = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(st["model"])
        aux_head.load_state_dict(st["aux_head"])
        opt.load_state_dict(st["opt"])
        step, log = st["step"], st["log"]
        elapsed0 = log[-1]["time_s"] if log else 0.0
        print(f"resumed from {state_path} at step {step}", flush=True)
    else:
        log_path.unlink(missing_ok=True)
    params = count_params(model)
    print(f"parameters: {params}", flush=True)
    dev_items, dev_images = split_items("dev", args.quick_eval_n)

    t0 = time.time() - elapsed0
    last_save = time.time()
    losses, auxes = [], []
    stop_reason = "steps"
    while step < args.steps:
        loss, aux, gnorm = train_step(model, aux_head, opt, codec, step, args, device)
        losses.append(loss)
        auxes.append(aux)
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            entry = {"step": step, "samples": step * args.batch, "loss": round(sum(losses) / len(losses), 5),
                     "aux": round(sum(auxes) / len(auxes), 5), "gnorm": round(gnorm, 4),
                     "lr": round(lr_at(step - 1, args), 7), "time_s": round(time.time() - t0, 1)}
            losses, auxes = [], []
            if step % args.eval_every == 0 or step == args.steps:
                entry["dev_quick"] = quick_eval(model, codec, dev_items, dev_images, device)
            log_line(entry, log, log_path)
            if "dev_quick" in entry and args.stop_acc and entry["dev_quick"]["overall"] >= args.stop_acc:
                stop_reason = f"dev_quick overall >= {args.stop_acc}"
            if args.time_limit_min and time.time() - t0 > 60 * args.time_limit_min:
                stop_reason = f"time limit {args.time_limit_min} min"
        if time.time() - last_save > 60 * args.save_every_min or step == args.steps or stop_reason != "steps":
            save_state(state_path, model, aux_head, opt, step, log, args)
            last_save = time.time()
        if stop_reason != "steps":
            break
    return model, {"steps_done": step, "samples_seen": step * args.batch, "stop_reason": stop_reason,
                   "train_time_s": round(time.time() - t0, 1), "parameters": params}


# ------------------------------------------------------------------------------------------
# Evaluation through the real processor and generate()

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
        ok = normalize_answer(text) == normalize_answer(it["answer"])
        c = correct[it["kind"]]
        c[0] += int(ok)
        c[1] += 1
        if not ok:
            wrong.append({"image": it["image"], "question": it["question"], "answer": it["answer"],
                          "prediction": text})
    return summarize(correct), wrong


# ------------------------------------------------------------------------------------------

def versions():
    import PIL
    import safetensors
    import tokenizers
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "safetensors": safetensors.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def bench(args, processor, codec, device):
    model = build_model(args, processor, args.seed).to(device)
    aux_head = make_aux_head(args).to(device)
    model.train()
    check_forward(model, codec, device)
    opt = make_optimizer(model, aux_head, args)
    print(f"parameters: {count_params(model)}", flush=True)
    t = time.time()
    for s in range(4):
        train_batch(codec, s, args.batch, args.turns)
    data_s = (time.time() - t) / (4 * args.batch)
    train_step(model, aux_head, opt, codec, 0, args, device)  # warm-up
    t = time.time()
    n = args.bench_steps
    for s in range(1, n + 1):
        train_step(model, aux_head, opt, codec, s, args, device)
    step_s = (time.time() - t) / n
    ids = train_batch(codec, 0, args.batch, args.turns)[0]
    print(json.dumps({"threads": torch.get_num_threads(), "batch": args.batch, "turns": args.turns,
                      "bf16": args.bf16, "seq_len": ids.shape[1], "data_ms_per_sample": round(1e3 * data_s, 3),
                      "step_s": round(step_s, 3), "samples_per_s": round(args.batch / step_s, 2)}), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "shapes",
                    help="writes <out>/model, <out>/eval, <out>/test, <out>/results.json")
    ap.add_argument("--state-dir", type=Path, default=None,
                    help="training state and log (default: build-shapes/ in the repository, git-ignored)")
    ap.add_argument("--resume", action="store_true", help="continue from <state-dir>/state.pt")
    ap.add_argument("--eval-only", action="store_true", help="only evaluate <out>/model on <out>/eval and <out>/test")
    ap.add_argument("--bench", action="store_true", help="measure data and training throughput, then exit")
    ap.add_argument("--bench-steps", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--seed", type=int, default=0, help="weight initialisation")
    ap.add_argument("--dev-n", type=int, default=400, help="items in <out>/eval (dev split)")
    ap.add_argument("--test-n", type=int, default=400, help="items in <out>/test (test split)")
    # model
    ap.add_argument("--vision-hidden", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--vision-feature-layer", type=int, default=-1)
    ap.add_argument("--text-hidden", type=int, default=128)
    ap.add_argument("--text-intermediate", type=int, default=512)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--text-kv-heads", type=int, default=2)
    # optimisation
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--turns", type=int, default=8, help="questions per training image (1 = eval format only)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--aux-weight", type=float, default=1.0,
                    help="weight of the per-patch auxiliary loss on the vision tower (0: answers only)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast for the forward (weights stay float32)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--quick-eval-n", type=int, default=400, help="dev items for the periodic first-token eval")
    ap.add_argument("--save-every-min", type=float, default=5.0)
    ap.add_argument("--stop-acc", type=float, default=0.0, help="stop once the periodic dev accuracy reaches this")
    ap.add_argument("--time-limit-min", type=float, default=0.0, help="stop training after this many minutes")
    args = ap.parse_args(argv)
    if args.state_dir is None:
        args.state_dir = REPO_ROOT / "build-shapes"

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = torch.device(args.device)
    out = args.out
    model_dir = out / "model"

    if args.eval_only:
        results_path = out / "results.json"
        results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else {}
        evaluate_all(results, model_dir, out, device)
        if results.get("train"):
            results_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
            write_readme(out, results)
        return 0

    processor = build_processor()
    codec = Codec(processor)
    print(f"tokenizer: {len(processor.tokenizer)} tokens; prompt length {len(codec.prompt(sd.all_questions()[0]))}",
          flush=True)
    if args.bench:
        bench(args, processor, codec, device)
        return 0

    out.mkdir(parents=True, exist_ok=True)
    for name, split, n in (("eval", "dev", args.dev_n), ("test", "test", args.test_n)):
        if (out / name).exists():
            shutil.rmtree(out / name)
        sd.write_split(out / name, split, n)

    model, train_info = train(args, processor, codec, device)

    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.eval()
    model.save_pretrained(str(model_dir), safe_serialization=True)
    processor.save_pretrained(str(model_dir))
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    shutil.copyfile(args.state_dir / "log.jsonl", out / "train_log.jsonl")

    results = {"train": train_info, "checkpoint_bytes": size,
               "command": " ".join([shown_path(sys.executable), *sys.argv]),
               "device": str(device), "threads": args.threads, "cpu": cpu_name(), "versions": versions(),
               "args": {k: str(v) for k, v in vars(args).items()},
               "config": config_summary(model.config)}
    evaluate_all(results, model_dir, out, device)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    write_readme(out, results)
    print(f"wrote {model_dir} ({size / 1e6:.2f} MB), {out / 'results.json'}, {out / 'README.md'}", flush=True)
    return 0


def evaluate_all(results, model_dir, out, device):
    t = time.time()
    for name in ("eval", "test"):
        acc, wrong = evaluate_dir(model_dir, out / name / "questions.jsonl", device)
        results[name] = acc
        results[f"{name}_wrong"] = wrong
        print(name, json.dumps(acc), flush=True)
    results["eval_time_s"] = round(time.time() - t, 1)


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


def write_readme(out, r):
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

* From scratch, {tr['steps_done']} steps of {a['batch']} images ({tr['samples_seen']:,} images, drawn on
  the fly from the train seed range); each image carries up to {a['turns']} questions as a
  multi-turn conversation (`USER: <image>\\nQ1 ASSISTANT: A1</s>USER: Q2 ASSISTANT: A2</s>...`; the
  first turn is exactly the evaluation prompt), loss on answer tokens and `</s>` only.
* Extra training turns also use three easier kinds (colour of the shape in a quadrant, "Is there a
  red shape?", "How many shapes are there?"), and a training-only linear probe on the vision
  features adds a per-patch loss (shape, colour, which shape's centre, quadrant, row, column; weight
  {a['aux_weight']}).
  The probe is not part of the checkpoint; without these two aids the model stayed at chance for
  hundreds of steps on a CPU budget.
* AdamW (betas 0.9/0.98, weight decay {a['weight_decay']}), peak LR {a['lr']}, {a['warmup']} warmup steps, cosine to
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


if __name__ == "__main__":
    sys.exit(main())
