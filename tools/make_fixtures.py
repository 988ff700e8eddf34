#!/usr/bin/env python3
"""Build tiny random-weight reference models and golden outputs for lightvlm's C++ tests.

For each model family (llama, qwen2, llava) this script

  1. builds a tokenizer with the `tokenizers` library (trained on a small built-in English text),
  2. builds a tiny model with the real transformers classes and deterministic random weights,
  3. saves both with save_pretrained (real file layout, real tensor names) under <out>/<family>/model/,
  4. runs a fixed prompt (and, for llava, a fixed image) through the real tokenizer/processor and
     model, and writes <out>/<family>/golden.safetensors + golden.json + tokenizer_cases.json,
  5. checks itself: generate() == a manual greedy argmax loop, reloading the saved directory with
     from_pretrained gives identical logits/ids/pixels, the greedy tokens are not degenerate.

Usage:
    .venv/bin/python tools/make_fixtures.py --out tests/fixtures [--family llama qwen2 llava]

Everything runs on the CPU in a few seconds, single-threaded, and is deterministic: running it twice
gives byte-identical files (check with `diff -r` against a second run). See tools/README.md.
"""

import os

# Before torch/tokenizers are imported: one thread everywhere, so results do not depend on the
# machine's core count and the script stays light.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("RAYON_RS_NUM_CPUS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import argparse
import hashlib
import io
import json
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
import safetensors
import safetensors.torch
import tokenizers
import torch
import transformers
from PIL import Image
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers
from transformers import (
    AutoProcessor,
    AutoTokenizer,
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaTokenizerFast,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2TokenizerFast,
)

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
transformers.logging.set_verbosity_error()

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = REPO_ROOT.parent / "shared" / "images"

FAMILIES = ("llama", "qwen2", "llava")
SEEDS = {"llama": 1001, "llama3": 1002, "qwen2": 2001, "llava": 3001}
ATTN_IMPL = "eager"  # the plain softmax(QK^T/sqrt(d))V reference; no fused kernels
NUM_NEW_TOKENS = 16
LOGITS_ALL_MAX_TOKENS = 32  # store logits for every prompt position only for prompts this short
WEIGHT_STD = 0.15  # N(0, 0.15) for matrices: with hidden 64 this gives varied greedy tokens
BIAS_STD = 0.05  # biases and CLIP's class embedding
NORM_STD = 0.1  # norm weights are 1 + N(0, 0.1), norm biases N(0, 0.05): nothing is exactly 1 or 0

# --------------------------------------------------------------------------------------------
# Training text for the tokenizers (built in, so nothing is downloaded).

CORPUS_PARAGRAPHS = [
    "Once upon a time, there was a little robot who loved to read books. Every morning the robot "
    "walked to the old library at the end of the street, opened a big blue book, and read until the "
    "sun went down. The librarian, a kind woman with round glasses, always smiled and said hello.",
    "One day the robot found a book about the sea. It had pictures of whales, boats, islands and "
    "bright fish. The robot had never seen the sea, so it decided to go on a long journey. It packed "
    "a map, a small lamp, three batteries and a notebook, and it left the town before sunrise.",
    "The road was long and dusty. The robot met a farmer with a brown horse, a girl who was flying a "
    "red kite, and an old man selling apples, oranges and bananas from a wooden cart. Each of them "
    "asked where it was going, and each time the robot answered: \"I am going to see the sea!\"",
    "After seven days and seven nights, the robot climbed a green hill and saw the water shining in "
    "the distance. It was bigger than any picture. The waves were white and loud, the wind smelled "
    "of salt, and seagulls were singing above the beach. The robot sat on the sand and wrote in its "
    "notebook: today I learned that the world is much larger than a book.",
    "A photograph shows a kitchen with a wooden table, four chairs, a white refrigerator and a "
    "window. On the table there is a bowl of fruit, two cups of coffee and a newspaper. A cat is "
    "sleeping on the chair near the window, and a dog is looking at the cat from the door.",
    "What is in the picture? The picture shows a city street at night. There are cars, buses and "
    "people walking on the sidewalk. The buildings are tall and the lights are yellow, green and "
    "red. In the center of the image, a man is holding an umbrella because it is raining.",
    "Question: How many apples are on the plate? Answer: There are 3 apples on the plate. "
    "Question: What color is the car? Answer: The car is blue. Question: Is the dog sleeping? "
    "Answer: No, the dog is running in the park with a ball.",
    "You are a helpful assistant. The user asks a question and the assistant gives a short, clear "
    "and correct answer. The system message tells the assistant how to behave. Hi! Hello! Thank "
    "you very much. You're welcome. What is 2+3? It is 5. What is the capital of France? Paris.",
    "In 2024 the museum had 12345 visitors in January, 23456 in February and 34567 in March. The "
    "price of a ticket was $15.50, or 10% less for students. Doors open at 9:30 and close at 17:00.",
    "Don't worry, I'll help you. We're going to the market, they've already left, she's happy and "
    "it's a beautiful day. I'm sure you'd like it. Can't we stay a little longer? Won't you come?",
    "Machine learning models read text as tokens. A tokenizer splits each sentence into small "
    "pieces, and the model predicts the next piece. Vision language models also read images: a "
    "vision encoder turns the image into patches, and a projector maps them into the language "
    "model, which then answers questions about the image.",
    "The naïve café owner in the small village served crème brûlée, a piña colada and a jalapeño "
    "soup. Résumé, façade, coöperate, déjà vu and über are words borrowed by English.",
    "Mathematics: (a + b) * c = a * c + b * c; x^2 - y^2 = (x - y) * (x + y); 1/2 + 1/4 = 3/4. "
    "Code: def add(a, b): return a + b  # [list], {dict}, <tag>, @user, #hash, ~tilde, |pipe|.",
    "The weather today is sunny and warm, with a light wind from the west. Tomorrow there will be "
    "clouds in the morning and rain in the afternoon. Please take a coat and an umbrella.",
]

_SUBJECTS = ["the cat", "a small dog", "my friend", "the teacher", "our neighbor", "the old robot",
             "a young girl", "the farmer", "this bird", "the children", "a tall man", "the doctor"]
_VERBS = ["sees", "likes", "paints", "carries", "finds", "watches", "builds", "cleans", "opens",
          "reads", "draws", "follows"]
_OBJECTS = ["a red ball", "the yellow house", "two green trees", "a wooden boat", "the bright moon",
            "an orange flower", "the black chair", "a silver key", "the purple box", "many stars",
            "a white cloud", "the long bridge"]
_PLACES = ["in the garden", "near the river", "at school", "on the mountain", "under the table",
           "behind the door", "in the morning", "after dinner", "by the window", "across the road"]


def corpus_lines():
    """The training text, one line per sentence group; deterministic."""
    lines = list(CORPUS_PARAGRAPHS)
    for i, s in enumerate(_SUBJECTS):
        for j, v in enumerate(_VERBS):
            o = _OBJECTS[(i * 5 + j * 7) % len(_OBJECTS)]
            p = _PLACES[(i * 3 + j) % len(_PLACES)]
            lines.append(f"{s.capitalize()} {v} {o} {p}.")
    return lines


# --------------------------------------------------------------------------------------------
# Tokenizers

LLAMA_SPECIALS = ["<unk>", "<s>", "</s>"]
LLAMA_VOCAB_SIZE = 1000  # 3 specials + 256 <0xXX> byte tokens + 741 trained pieces

QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_BPE_SIZE = 947  # + 3 specials = 950 tokens; the model's vocab_size is padded to 1024
QWEN2_MODEL_VOCAB = 1024

QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The template of llava-hf/llava-1.5-7b-hf (chat_template.json), verbatim.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}"
    "{% endif %}{# Render all images first #}{% for content in message['content'] | selectattr('type', "
    "'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] "
    "!= 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}{% else %}{% for content in message['content'] | "
    "selectattr('type', 'equalto', 'text') %}{% generation %}{{ content['text'] + ' '}}{% endgeneration %}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def build_llama_tokenizer():
    tok = llama_layout_bpe(corpus_lines(), LLAMA_VOCAB_SIZE - 256)
    assert tok.get_vocab_size(with_added_tokens=False) == LLAMA_VOCAB_SIZE, \
        f"llama BPE reached only {tok.get_vocab_size(with_added_tokens=False)}"
    return tok


def llama_layout_bpe(lines, trainer_vocab):
    """SentencePiece-style BPE with byte fallback trained on `lines`, laid out like a converted
    Llama-2 tokenizer.json (also the shapes model's, tools/shapes_model.py).

    Trained with a Metaspace pre-tokenizer (so no piece spans a word boundary, as in SentencePiece),
    then re-assembled with the Llama pipeline: normalizer Prepend("▁") + Replace(" ", "▁"), no
    pre-tokenizer, ids 0..2 = <unk> <s> </s>, ids 3..258 = <0x00>..<0xFF>, then the trained pieces.
    """
    tmp = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tmp.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=trainer_vocab, special_tokens=LLAMA_SPECIALS,
                                  show_progress=False)
    tmp.train_from_iterator(lines, trainer=trainer)
    trained = json.loads(tmp.to_str())["model"]

    vocab = {}
    for t in LLAMA_SPECIALS:
        vocab[t] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for tok, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if tok not in vocab:
            vocab[tok] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]

    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True,
                               fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in LLAMA_SPECIALS])
    return tok


def wrap_llama_tokenizer(tok, chat_template=None):
    fast = LlamaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, legacy=True,
                              clean_up_tokenization_spaces=False, model_max_length=256)
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


def build_qwen2_tokenizer():
    """Byte-level BPE laid out like Qwen2's tokenizer.json (NFC, Split(regex) + ByteLevel)."""
    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer = trainers.BpeTrainer(vocab_size=QWEN2_BPE_SIZE, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    assert tok.get_vocab_size() == QWEN2_BPE_SIZE, f"qwen2 BPE reached only {tok.get_vocab_size()}"
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN2_SPECIALS])
    return Qwen2TokenizerFast(tokenizer_object=tok, unk_token=None, bos_token=None, eos_token="<|im_end|>",
                              pad_token="<|endoftext|>", clean_up_tokenization_spaces=False,
                              split_special_tokens=False, model_max_length=256, errors="replace",
                              chat_template=QWEN2_CHAT_TEMPLATE)


QWEN2_VL_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]


def build_qwen2_vl_tokenizer():
    """The Qwen2 tokenizer with Qwen2-VL's vision tokens (ids 950..953), for both Qwen-VL fixtures."""
    tok = build_qwen2_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": [
        AddedToken(t, special=True, normalized=False) for t in QWEN2_VL_SPECIALS]})
    return tok


def synthetic_png(width, height, seed):
    """Smooth gradients plus noise: every resize weight matters, nothing is flat."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([255 * x / max(width - 1, 1), 255 * y / max(height - 1, 1),
                     127 + 120 * np.sin((x + 2 * y) / 5.0)], axis=-1)
    rgb = np.clip(base + g.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


TOKENIZER_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "trailing spaces   ",
    "multiple   spaces  between  words",
    "line one\nline two\n\n\ttabbed\r\nwindows line",
    "12345 and 3.14159 and 2024",
    "Punctuation: hello, world! (yes) [no] {maybe}; \"quoted\" -- dash... ?!",
    "don't I'll we're it's THEY'LL",
    "naïve café résumé",
    "你好世界",
    "🙂👍",
    "",
]
EXTRA_CASES = {
    "llama": ["<s>hi</s> <unk>", "Once upon a time"],
    "qwen2": ["<|im_start|>user\nhi<|im_end|>\n<|endoftext|>", "<|im_start|>assistant\n"],
    "llava": ["USER: <image>\nWhat is this? ASSISTANT:", "<image><image>x", "<s>hi</s>"],
}


def tokenizer_cases(tokenizer, family):
    out = []
    for text in TOKENIZER_CASES + EXTRA_CASES[family]:
        ids = tokenizer(text, add_special_tokens=True).input_ids
        out.append({
            "text": text,
            "ids": ids,
            "tokens": tokenizer.convert_ids_to_tokens(ids),
            "decoded": tokenizer.decode(ids, skip_special_tokens=True),
        })
    return out


# --------------------------------------------------------------------------------------------
# Models

def reinit_weights_(model, seed):
    """Overwrite every parameter from a private generator, in sorted-name order.

    Independent of transformers' own _init_weights (which changes across versions and leaves
    norms at exactly 1 and biases at exactly 0, so a C++ bug there would go unnoticed).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):  # tied weights appear once
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if p.ndim == 1 and "norm" in name and name.endswith(".weight"):
                p.copy_(1.0 + NORM_STD * noise)
            elif p.ndim == 1:
                p.copy_(BIAS_STD * noise)
            else:
                p.copy_(WEIGHT_STD * noise)


def make_model(cls, config, seed):
    torch.manual_seed(seed)
    model = cls._from_config(config, attn_implementation=ATTN_IMPL, torch_dtype=torch.float32)
    reinit_weights_(model, seed)
    model.eval()
    return model


def llama_text_config(vocab_size, num_layers, **overrides):
    kw = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=num_layers,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256,
        rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
        initializer_range=WEIGHT_STD, torch_dtype="float32",
    )
    kw.update(overrides)
    return LlamaConfig(**kw)


# --------------------------------------------------------------------------------------------
# Running the reference

def greedy_loop(last_logits, state, append, n=NUM_NEW_TOKENS):
    """Plain argmax decoding with full forwards (no KV cache): last_logits(state) gives the logits at the
    last position, append(state, token) the state with the token ([1, 1]) appended. Returns the tokens
    and the min top-2 margin."""
    toks, margins = [], []
    with torch.no_grad():
        for _ in range(n):
            top2 = torch.topk(last_logits(state), 2)
            toks.append(int(top2.indices[0]))
            margins.append(float(top2.values[0] - top2.values[1]))
            state = append(state, top2.indices[:1].view(1, 1))
    return toks, min(margins)


def append_token(ids, token):
    return torch.cat([ids, token.to(ids.dtype)], dim=1)


def greedy_manual(model, input_ids, n, **extra):
    """greedy_loop over a model whose forward takes the ids and fixed `extra` inputs."""
    return greedy_loop(lambda ids: model(input_ids=ids, **extra).logits[0, -1], input_ids, append_token, n)


def greedy_generate(model, inputs, pad_token_id):
    """model.generate with EOS disabled, so exactly NUM_NEW_TOKENS come out."""
    saved = model.generation_config
    model.generation_config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=NUM_NEW_TOKENS,
                                               eos_token_id=None, pad_token_id=pad_token_id)
    try:
        with torch.no_grad():
            out = model.generate(**inputs)
    finally:
        model.generation_config = saved
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    assert len(new) == NUM_NEW_TOKENS, f"generate produced {len(new)} tokens"
    return new


GENERATE_CALL = (
    "model.generation_config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=16, "
    "eos_token_id=None, pad_token_id=PAD); model.generate(**inputs)[0, prompt_len:]  "
    "(EOS disabled so exactly 16 tokens come out; checked equal to a manual argmax loop over full "
    "forwards without KV cache)"
)


def check_greedy(model, inputs, pad_token_id, extra):
    manual = lambda ids: model(input_ids=ids, **extra).logits[0, -1]  # noqa: E731
    return check_greedy_steps(model, inputs, pad_token_id, inputs["input_ids"], manual, append_token)


def check_greedy_steps(model, inputs, pad_token_id, state, last_logits, append):
    """generate() equals greedy_loop(last_logits, state, append), is not degenerate and has no near tie."""
    gen = greedy_generate(model, inputs, pad_token_id)
    manual, margin = greedy_loop(last_logits, state, append)
    assert gen == manual, f"generate {gen} != manual greedy {manual}"
    assert len(set(gen)) >= 4, f"degenerate greedy output: {gen}"
    assert margin > 5e-3, f"greedy decoding has a near tie (top-1 - top-2 = {margin}); change the seed"
    return gen, margin


def tensor_meta(tensors, descriptions):
    meta = {}
    for name, t in tensors.items():
        meta[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                      "description": descriptions[name]}
    return meta


def checkpoint_layout(model_dir):
    from safetensors import safe_open
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        return {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}


def versions():
    return {
        "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
    }


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_golden(fdir, tensors, descriptions, info):
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
    # One metadata key only: safetensors writes the metadata map in hash order, so several keys would
    # make the file bytes differ from run to run. Provenance lives in golden.json.
    safetensors.torch.save_file(tensors, str(fdir / "golden.safetensors"), metadata={"format": "pt"})
    info["tensors"] = tensor_meta(tensors, descriptions)
    write_json(fdir / "golden.json", info)


def fresh_dir(path):
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def reload_check_text(cls, model_dir, logits_ref, text, ids_ref):
    tok2 = AutoTokenizer.from_pretrained(str(model_dir))
    ids2 = tok2(text, return_tensors="pt").input_ids
    assert torch.equal(ids2, ids_ref), "reloaded tokenizer gives different ids"
    m2 = cls.from_pretrained(str(model_dir), attn_implementation=ATTN_IMPL, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        l2 = m2(input_ids=ids2).logits[0]
    assert torch.equal(l2, logits_ref), "reloaded model gives different logits"
    return tok2


# --------------------------------------------------------------------------------------------
# Families

def text_family(out, family, sub, model, tokenizer, prompt_text, prompt_info, pad_token_id, seed, notes):
    """Shared part of llama/qwen2: save, run, check, write goldens. Returns the directory."""
    fdir = fresh_dir(out / family / sub) if sub else fresh_dir(out / family)
    model_dir = fdir / "model"
    model.save_pretrained(str(model_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(model_dir))

    inputs = tokenizer(prompt_text, return_tensors="pt")
    input_ids = inputs.input_ids
    with torch.no_grad():
        logits = model(**inputs).logits[0]
    gen, margin = check_greedy(model, dict(inputs), pad_token_id, {})
    tok2 = reload_check_text(type(model), model_dir, logits, prompt_text, input_ids)
    if not sub:
        write_json(fdir / "tokenizer_cases.json", tokenizer_cases(tok2, family))

    seq = input_ids.shape[1]
    tensors = {
        "input_ids": input_ids[0].to(torch.int64),
        "logits_last": logits[-1].float(),
        "greedy_tokens": torch.tensor(gen, dtype=torch.int64),
    }
    descriptions = {
        "input_ids": "prompt token ids from tokenizer(prompt_text) (special tokens as the tokenizer adds them)",
        "logits_last": "float32 logits at the last prompt position, length = config vocab_size",
        "greedy_tokens": f"{NUM_NEW_TOKENS} new tokens of greedy (argmax) decoding, EOS disabled",
    }
    if seq <= LOGITS_ALL_MAX_TOKENS:
        tensors["logits_all"] = logits.float()
        descriptions["logits_all"] = "float32 logits at every prompt position [seq, vocab_size]"

    cfg = model.config
    info = {
        "family": family if not sub else f"{family}/{sub}",
        "generator": "tools/make_fixtures.py",
        "versions": versions(),
        "seed": seed,
        "model_dir": "model",
        "model_class": type(model).__name__,
        "attn_implementation": ATTN_IMPL,
        "config": {k: getattr(cfg, k) for k in (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "rope_theta", "rope_scaling", "rms_norm_eps", "tie_word_embeddings",
            "max_position_embeddings")},
        "tokenizer_size": len(tok2),
        "prompt": dict(prompt_info, text=prompt_text, num_tokens=seq),
        "calls": {
            "tokenize": "tokenizer = AutoTokenizer.from_pretrained(model_dir); "
                        "inputs = tokenizer(prompt_text, return_tensors='pt')",
            "forward": "model = %s.from_pretrained(model_dir, attn_implementation='eager', "
                       "torch_dtype=torch.float32).eval(); logits = model(**inputs).logits[0]" % type(model).__name__,
            "generate": GENERATE_CALL.replace("PAD", str(pad_token_id)),
        },
        "greedy": {"tokens": gen, "text": tok2.decode(gen, skip_special_tokens=False),
                   "min_top1_top2_logit_margin": margin, "equals_manual_argmax_loop": True},
        "tolerance": {"logits_max_abs_error": 1e-3},
        "weights_init": f"every parameter redrawn in sorted-name order from torch.Generator().manual_seed({seed}): "
                        f"matrices N(0,{WEIGHT_STD}), norm weights 1+N(0,{NORM_STD}), biases N(0,{BIAS_STD})",
        "notes": notes,
        "checkpoint_tensors": checkpoint_layout(model_dir),
    }
    write_golden(fdir, tensors, descriptions, info)
    return fdir


def make_llama(out):
    tokenizer = wrap_llama_tokenizer(build_llama_tokenizer())
    prompt = "Once upon a time, there was a little robot who loved to read books."
    prompt_info = {"kind": "plain text, BOS added by the tokenizer"}

    seed = SEEDS["llama"]
    cfg = llama_text_config(LLAMA_VOCAB_SIZE, num_layers=3)
    model = make_model(LlamaForCausalLM, cfg, seed)
    text_family(out, "llama", None, model, tokenizer, prompt, prompt_info, pad_token_id=0, seed=seed,
                notes=["untied lm_head; GQA 4 query heads / 2 KV heads, head_dim 16; default RoPE"])

    # Variant: Llama-3 style RoPE scaling (all three frequency bands are hit with head_dim 16,
    # theta 500000, original_max_position_embeddings 64), tied embeddings (no lm_head.weight saved).
    seed = SEEDS["llama3"]
    cfg = llama_text_config(LLAMA_VOCAB_SIZE, num_layers=2, rope_theta=500000.0, tie_word_embeddings=True,
                            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 64})
    model = make_model(LlamaForCausalLM, cfg, seed)
    text_family(out, "llama", "llama3", model, tokenizer, prompt, prompt_info, pad_token_id=0, seed=seed,
                notes=["variant: rope_scaling llama3 (factor 8, low 1, high 4, original max pos 64), "
                       "rope_theta 500000, tie_word_embeddings=True so the checkpoint has no lm_head.weight",
                       "same tokenizer as ../model"])


def make_qwen2(out):
    tokenizer = build_qwen2_tokenizer()
    messages = [{"role": "user", "content": "What is 2+3?"}]  # 30 tokens with the template
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    prompt_info = {"kind": "chat template (ChatML) rendered with "
                           "tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)",
                   "messages": messages}
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN2_SPECIALS}

    seed = SEEDS["qwen2"]
    cfg = Qwen2Config(
        vocab_size=QWEN2_MODEL_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=256,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=False, use_sliding_window=False,
        sliding_window=None, max_window_layers=2, bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], initializer_range=WEIGHT_STD, torch_dtype="float32")
    model = make_model(Qwen2ForCausalLM, cfg, seed)
    # As Qwen2-Instruct: generation stops on either <|im_end|> or <|endoftext|>.
    model.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"],
                                               eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                                               pad_token_id=ids["<|endoftext|>"], do_sample=False)
    text_family(out, "qwen2", None, model, tokenizer, prompt, prompt_info, pad_token_id=ids["<|endoftext|>"],
                seed=seed,
                notes=[f"q/k/v projections have biases; tokenizer has {len(tokenizer)} tokens "
                       f"(947 BPE + 3 special, ids {ids}), config vocab_size {QWEN2_MODEL_VOCAB} (padded, "
                       "as real Qwen2): logits have 1024 entries",
                       "no BOS: tokenizer(text) adds no special tokens"])


LLAVA_IMAGE = "mmbench_2399.jpg"  # 512x387: resize to 444x336 (antialiased bicubic), then crop 336x336
LLAVA_IMAGE_SHA256 = "a295ecdeeb38ce3be82623500f5a24ff03e4339d479f5cef84ca249b9b9f4a99"


def llava_image_bytes(out):
    """The test photograph, from ../shared/images."""
    for cand in (IMAGES_DIR / LLAVA_IMAGE,):
        if cand.is_file():
            data = cand.read_bytes()
            if hashlib.sha256(data).hexdigest() == LLAVA_IMAGE_SHA256:
                return data
    raise SystemExit(f"{LLAVA_IMAGE} (sha256 {LLAVA_IMAGE_SHA256}) not found in {IMAGES_DIR}")
LLAVA_QUESTION = "What is in the picture?"
LLAVA_TEXT_VOCAB = 1024  # tokenizer: 1000 + <image> (1000) + <pad> (1001)


def make_llava(out):
    image_bytes = llava_image_bytes(out)
    fdir = fresh_dir(out / "llava")
    model_dir = fdir / "model"

    # As llava-hf/llava-1.5-7b-hf: <image> right after the base vocabulary, then <pad>.
    tokenizer = wrap_llama_tokenizer(build_llama_tokenizer(), chat_template=LLAVA_CHAT_TEMPLATE)
    tokenizer.add_tokens([AddedToken("<image>", special=True, normalized=False)], special_tokens=True)
    tokenizer.add_special_tokens({"pad_token": AddedToken("<pad>", special=True, normalized=False)})
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    pad_id = tokenizer.convert_tokens_to_ids("<pad>")
    assert (image_token_id, pad_id) == (1000, 1001), (image_token_id, pad_id)

    image_processor = CLIPImageProcessor(
        do_resize=True, size={"shortest_edge": 336}, resample=3, do_center_crop=True,
        crop_size={"height": 336, "width": 336}, do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711],
        do_convert_rgb=True)
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=14,
                               vision_feature_select_strategy="default", image_token="<image>",
                               chat_template=LLAVA_CHAT_TEMPLATE)

    seed = SEEDS["llava"]
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, projection_dim=32, num_hidden_layers=3,
                              num_attention_heads=4, num_channels=3, image_size=336, patch_size=14,
                              hidden_act="quick_gelu", layer_norm_eps=1e-5)
    text = llama_text_config(LLAVA_TEXT_VOCAB, num_layers=2, pad_token_id=pad_id,
                             max_position_embeddings=2048)  # room for two images and an answer
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                      projector_hidden_act="gelu", vision_feature_select_strategy="default",
                      vision_feature_layer=-2, image_seq_length=576, tie_word_embeddings=False,
                      pad_token_id=pad_id)
    model = make_model(LlavaForConditionalGeneration, cfg, seed)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=pad_id)
    model.save_pretrained(str(model_dir), safe_serialization=True)
    processor.save_pretrained(str(model_dir))

    # Stored as PNG, so that this fixture depends on no JPEG decoder (when it was made, the engine's
    # differed from PIL's by a few units per pixel; tools/make_jpeg_fixtures.py now covers JPEG).
    Image.open(io.BytesIO(image_bytes)).convert("RGB").save(fdir / "image.png", optimize=True)
    image = Image.open(fdir / "image.png")
    image.load()
    conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": LLAVA_QUESTION}]}]
    prompt = processor.apply_chat_template(conversation, add_generation_prompt=True)
    assert prompt == f"USER: <image>\n{LLAVA_QUESTION} ASSISTANT:", repr(prompt)
    inputs = processor(images=image, text=prompt, return_tensors="pt")
    input_ids, pixel_values = inputs["input_ids"], inputs["pixel_values"]
    n_image = int((input_ids == image_token_id).sum())
    expanded = n_image == 576
    assert n_image in (1, 576)
    unexpanded_ids = tokenizer(prompt, return_tensors="pt").input_ids

    with torch.no_grad():
        vis_out = model.vision_tower(pixel_values, output_hidden_states=True)
        vision_hidden = vis_out.hidden_states[cfg.vision_feature_layer][0]  # [577, 32], CLS first
        image_features = model.get_image_features(pixel_values, cfg.vision_feature_layer,
                                                  cfg.vision_feature_select_strategy)[0]  # [576, 64]
        manual_features = model.multi_modal_projector(vision_hidden[1:].unsqueeze(0))[0]
        assert torch.equal(manual_features, image_features)
        logits = model(**inputs).logits[0]
    assert logits.shape[0] == input_ids.shape[1]
    gen, margin = check_greedy(model, dict(inputs), pad_id, {"pixel_values": pixel_values})

    # Reload everything from disk and compare.
    proc2 = AutoProcessor.from_pretrained(str(model_dir))
    inputs2 = proc2(images=Image.open(fdir / "image.png"), text=prompt, return_tensors="pt")
    assert torch.equal(inputs2["input_ids"], input_ids) and torch.equal(inputs2["pixel_values"], pixel_values)
    m2 = LlavaForConditionalGeneration.from_pretrained(str(model_dir), attn_implementation=ATTN_IMPL,
                                                       torch_dtype=torch.float32).eval()
    with torch.no_grad():
        assert torch.equal(m2(**inputs2).logits[0], logits), "reloaded llava gives different logits"
    write_json(fdir / "tokenizer_cases.json", tokenizer_cases(proc2.tokenizer, "llava"))

    pos = (input_ids[0] == image_token_id).nonzero().flatten().tolist()
    w, h = image.size
    short = 336
    rw, rh = (int(short * w / h), short) if w >= h else (short, int(short * h / w))
    tensors = {
        "input_ids": input_ids[0].to(torch.int64),
        "pixel_values": pixel_values.float(),
        "vision_hidden_state": vision_hidden.float(),
        "image_features": image_features.float(),
        "logits_last": logits[-1].float(),
        "greedy_tokens": torch.tensor(gen, dtype=torch.int64),
    }
    descriptions = {
        "input_ids": "processor(images=image, text=prompt).input_ids[0]: BOS + prompt with <image> expanded to "
                     "576 copies of image_token_index by the processor" if expanded else
                     "processor(images=image, text=prompt).input_ids[0] (one <image> token, model expands)",
        "pixel_values": "processor output [1, 3, 336, 336]: resize shortest edge to 336 with PIL bicubic "
                        "(on uint8), center crop 336, x/255, (x-mean)/std",
        "vision_hidden_state": "vision_tower(pixel_values, output_hidden_states=True).hidden_states[-2][0]: "
                               "output of CLIP encoder layer 2 of 3 (hidden_states[0] is after pre_layrnorm), "
                               "CLS token first [577, 32]",
        "image_features": "model.get_image_features(pixel_values, -2, 'default')[0]: hidden_states[-2] without "
                          "CLS -> multi_modal_projector (linear_1, gelu, linear_2) [576, 64]",
        "logits_last": "float32 logits at the last prompt position, length = text_config vocab_size (1024)",
        "greedy_tokens": f"{NUM_NEW_TOKENS} new tokens of greedy (argmax) decoding, EOS disabled",
    }
    info = {
        "family": "llava",
        "generator": "tools/make_fixtures.py",
        "versions": versions(),
        "seed": seed,
        "model_dir": "model",
        "model_class": "LlavaForConditionalGeneration",
        "attn_implementation": ATTN_IMPL,
        "config": {
            "image_token_index": image_token_id, "pad_token_id": pad_id, "image_seq_length": 576,
            "vision_feature_layer": cfg.vision_feature_layer,
            "vision_feature_select_strategy": cfg.vision_feature_select_strategy,
            "projector_hidden_act": cfg.projector_hidden_act,
            "vision": {k: getattr(cfg.vision_config, k) for k in (
                "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size",
                "patch_size", "hidden_act", "layer_norm_eps")},
            "text": {k: getattr(cfg.text_config, k) for k in (
                "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "rope_theta", "rms_norm_eps", "tie_word_embeddings")},
        },
        "tokenizer_size": len(proc2.tokenizer),
        "image": {
            "file": "image.png", "source": f"../shared/images/{LLAVA_IMAGE} decoded by PIL, saved as PNG",
            "source_sha256": LLAVA_IMAGE_SHA256,
            "original_size_wh": [w, h], "resized_size_wh": [rw, rh],
            "center_crop_box_ltrb": [(rw - 336) // 2, (rh - 336) // 2, (rw - 336) // 2 + 336, (rh - 336) // 2 + 336],
            "resample": "PIL.Image.BICUBIC (3), applied by PIL on the uint8 image (antialiased when downscaling)",
        },
        "prompt": {
            "conversation": conversation,
            "text": prompt,
            "rendered_with": "processor.apply_chat_template(conversation, add_generation_prompt=True)",
            "num_tokens": input_ids.shape[1],
            "processor_expanded_image_token": expanded,
            "num_image_tokens_in_input_ids": n_image,
            "image_token_positions": [pos[0], pos[-1] + 1] if pos else None,
            "unexpanded_input_ids": unexpanded_ids[0].tolist(),
        },
        "calls": {
            "process": "processor = AutoProcessor.from_pretrained(model_dir); "
                       "inputs = processor(images=Image.open('image.png'), text=prompt, return_tensors='pt')",
            "forward": "model = LlavaForConditionalGeneration.from_pretrained(model_dir, attn_implementation='eager', "
                       "torch_dtype=torch.float32).eval(); logits = model(**inputs).logits[0]",
            "generate": GENERATE_CALL.replace("PAD", str(pad_id)),
        },
        "greedy": {"tokens": gen, "text": proc2.tokenizer.decode(gen, skip_special_tokens=False),
                   "min_top1_top2_logit_margin": margin, "equals_manual_argmax_loop": True},
        "tolerance": {"logits_max_abs_error": 1e-3},
        "weights_init": f"every parameter redrawn in sorted-name order from torch.Generator().manual_seed({seed}): "
                        f"matrices N(0,{WEIGHT_STD}), norm weights 1+N(0,{NORM_STD}), biases and class_embedding "
                        f"N(0,{BIAS_STD})",
        "notes": [
            "checkpoint written by transformers 4.46 uses the older tensor names: language_model.model.*, "
            "language_model.lm_head.weight, vision_tower.vision_model.*, multi_modal_projector.*",
            "the last CLIP encoder layer and post_layernorm are saved but unused (vision_feature_layer -2)",
            f"tokenizer has {len(proc2.tokenizer)} tokens (llama tokenizer + <pad> + <image>); text vocab_size "
            f"{LLAVA_TEXT_VOCAB} (padded)",
            "chat template saved both as model/chat_template.json (processor) and in tokenizer_config.json",
        ],
        "checkpoint_tensors": checkpoint_layout(model_dir),
    }
    write_golden(fdir, tensors, descriptions, info)
    return fdir


# --------------------------------------------------------------------------------------------
# Qwen2-VL and Qwen2.5-VL: what make_qwen2vl_fixture.py and make_qwen25vl_fixture.py share

QWEN_VL_MIN_PIXELS = 56 * 56  # the real default
QWEN_VL_MAX_PIXELS = 28 * 28 * 16  # at most 16 merged tokens per image, so the fixtures stay small
QWEN_VL_QUESTION = "What is in the picture?"
# Case -> its images, relative to qwen2vl/ (which holds the synthetic ones); "pair" has two in one prompt.
QWEN_VL_CASES = {"wide": ["wide.png"], "tall": ["tall.png"], "small": ["small.png"],
                 "pair": ["../llava/image.png", "tall.png"]}


def qwen_vl_token_config(tok):
    """The config's special token ids, from build_qwen2_vl_tokenizer's tokenizer."""
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN2_VL_SPECIALS + QWEN2_SPECIALS}
    return {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
            "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]}


def qwen_vl_prompt(templater, n_images):
    """Qwen2-VL-2B-Instruct's chat template (a processor's or tokenizer's) over one user turn: the
    images, then QWEN_VL_QUESTION."""
    content = [{"type": "image"}] * n_images + [{"type": "text", "text": QWEN_VL_QUESTION}]
    text = templater.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                         tokenize=False)
    vision = "<|vision_start|><|image_pad|><|vision_end|>" * n_images
    assert text == (f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                    f"{vision}{QWEN_VL_QUESTION}<|im_end|>\n<|im_start|>assistant\n"), text
    return text


def qwen_vl_case(files, images, text, ids, grid, rope_delta):
    """golden.json's record of one case."""
    return {"images": files, "image_sizes_wh": [list(im.size) for im in images], "prompt": text,
            "n_tokens": int(ids.shape[1]), "image_grid_thw": grid.tolist(), "rope_delta": int(rope_delta)}


def write_qwen_vl_golden(fdir, tensors, descriptions, tok, what, seed, image_processor, cases, greedy):
    """golden.safetensors and golden.json; then checks the directory's size and prints the cases."""
    info = {"what": what, "seed": seed, "versions": versions(), "attn_implementation": ATTN_IMPL,
            "image_processor": image_processor,
            "token_ids": {t: tok.convert_tokens_to_ids(t) for t in QWEN2_VL_SPECIALS + QWEN2_SPECIALS},
            "cases": cases, "greedy": greedy, "checkpoint": checkpoint_layout(fdir / "model")}
    write_golden(fdir, tensors, descriptions, info)
    size = dir_size(fdir)
    assert size < 3 * 1024 * 1024, f"fixture is {size} bytes"
    print(f"wrote {fdir} ({size} bytes)")
    for name, c in cases.items():
        print(name, c["image_sizes_wh"], c["image_grid_thw"], c["n_tokens"], c["rope_delta"])


# --------------------------------------------------------------------------------------------

def dir_size(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def summarize(out, family):
    fdir = out / family
    print(f"== {family}: {fdir} ({dir_size(fdir) / 1e6:.2f} MB)")
    for p in sorted(fdir.rglob("*")):
        if p.is_file():
            print(f"   {p.relative_to(fdir)}  {p.stat().st_size} B")
    for g in sorted(fdir.rglob("golden.json")):
        info = json.loads(g.read_text(encoding="utf-8"))
        shapes = {k: v["shape"] for k, v in info["tensors"].items()}
        print(f"   {g.parent.relative_to(out)}: tensors {shapes}")
        print(f"      greedy {info['greedy']['tokens']} margin {info['greedy']['min_top1_top2_logit_margin']:.4f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="output root, normally tests/fixtures")
    ap.add_argument("--family", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    args = ap.parse_args(argv)
    makers = {"llama": make_llama, "qwen2": make_qwen2, "llava": make_llava}
    for family in args.family:
        makers[family](args.out)
        size = dir_size(args.out / family)
        assert size < 3_500_000, f"{family} fixtures are {size} bytes (> 3.5 MB)"
        summarize(args.out, family)
    return 0


if __name__ == "__main__":
    sys.exit(main())
