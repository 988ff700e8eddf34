#!/usr/bin/env python3
"""What the fixture scripts share: the single-thread, offline environment (set on import, before
torch loads), the built-in training text and tokenizers, tiny models with deterministic random
weights, the reference runs (generate() against a manual greedy loop) and the golden files'
writers. tools/make_fixtures.py (llama, qwen2, llava) and the other tools/make_*_fixture*.py
scripts import it; see tools/README.md.
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

import json
import platform
import shutil
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
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaTokenizerFast,
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

LLAVA_IMAGE = "mmbench_2399.jpg"  # 512x387: resize to 444x336 (antialiased bicubic), then crop 336x336
LLAVA_IMAGE_SHA256 = "a295ecdeeb38ce3be82623500f5a24ff03e4339d479f5cef84ca249b9b9f4a99"


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


def dir_size(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
