#!/usr/bin/env python3
"""The shapes model's pieces, shared by tools/train_shapes.py and tools/shapes_eval.py: its tokenizer
and processor (built here, nothing downloaded), the Codec that turns questions and images into model
inputs without the processor (checked against it), and the LlavaForConditionalGeneration itself."""

import math
import sys
from pathlib import Path

import numpy as np
import torch
from tokenizers import AddedToken
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    LlamaConfig,
    LlamaTokenizerFast,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import shapes_data as sd  # noqa: E402
# The llava-1.5 chat template: one user turn with an image renders as
# "USER: <image>\n{question} ASSISTANT:".
from fixture_common import LLAVA_CHAT_TEMPLATE, llama_layout_bpe  # noqa: E402

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
PATCH = 14
NUM_IMAGE_TOKENS = (sd.IMAGE_SIZE // PATCH) ** 2  # 256 ("default" strategy drops CLS)


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
    tok = llama_layout_bpe(tokenizer_corpus(), 2000)
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

def add_model_args(ap):
    ap.add_argument("--vision-hidden", type=int, default=128)
    ap.add_argument("--vision-layers", type=int, default=4)
    ap.add_argument("--vision-heads", type=int, default=4)
    ap.add_argument("--vision-feature-layer", type=int, default=-1)
    ap.add_argument("--text-hidden", type=int, default=128)
    ap.add_argument("--text-intermediate", type=int, default=512)
    ap.add_argument("--text-layers", type=int, default=4)
    ap.add_argument("--text-heads", type=int, default=4)
    ap.add_argument("--text-kv-heads", type=int, default=2)
    ap.add_argument("--rope-theta", type=float, default=1e6,
                    help="large, so that more rotary dimensions stay usable for matching words to image content")
    ap.add_argument("--init-std", type=float, default=0.08,
                    help="std of the language model's and projector's initial weights (about 1/sqrt(hidden): "
                         "transformers' 0.02 is sized for wide models and left attention flat for long here)")


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
        rms_norm_eps=1e-5, rope_theta=args.rope_theta, tie_word_embeddings=False, attention_bias=False,
        mlp_bias=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, initializer_range=0.02, torch_dtype="float32")
    cfg = LlavaConfig(vision_config=vision, text_config=text,
                      image_token_index=tok.convert_tokens_to_ids("<image>"), projector_hidden_act="gelu",
                      vision_feature_select_strategy="default", vision_feature_layer=args.vision_feature_layer,
                      image_seq_length=NUM_IMAGE_TOKENS, tie_word_embeddings=False, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration._from_config(cfg, attn_implementation="sdpa", torch_dtype=torch.float32)
    with torch.no_grad():
        for module in list(model.multi_modal_projector.modules()) + list(model.language_model.modules()):
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                module.weight.normal_(0.0, args.init_std)
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.zero_()
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id, do_sample=False, max_new_tokens=8)
    return model


def count_params(model):
    n = {"vision_tower": 0, "multi_modal_projector": 0, "language_model": 0}
    for name, p in model.named_parameters():
        n[name.split(".")[0]] += p.numel()
    n["total"] = sum(n.values())
    return n
