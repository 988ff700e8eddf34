#!/usr/bin/env python3
"""The shapes_smol model's pieces (tools/train_shapes_smol.py, tools/shapes_smol_eval.py): its tokenizer
and processor (SmolLM2's from the GGUF plus SmolVLM's added tokens), the Codec that builds training
inputs without the processor (checked against it), the SmolVLMForConditionalGeneration with the GGUF's
language model, LoRA adapters and the word probes for a byte-level BPE vocabulary."""

import sys
from pathlib import Path

import numpy as np
import torch
from tokenizers import AddedToken
from transformers import AutoTokenizer, GenerationConfig, SmolVLMConfig, SmolVLMForConditionalGeneration
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil
from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_shapes_smol  # noqa: E402
import shapes_data as sd  # noqa: E402
from make_smolvlm_fixture import FixtureProcessor  # noqa: E402
from shapes_probes import WordProbe  # noqa: E402

PATCH = 16
NUM_IMAGE_TOKENS = (sd.IMAGE_SIZE // PATCH) ** 2  # 196 at scale factor 1
ADDED_TOKENS = ["<fake_token_around_image>", "<image>", "<global-img>", "<end_of_utterance>"]
MEAN = STD = 0.5


def build_processor(gguf_path):
    gguf_path = Path(gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    base = len(tok)
    tok.add_tokens([AddedToken(t, special=True, normalized=False) for t in ADDED_TOKENS], special_tokens=True)
    ids = tok.convert_tokens_to_ids(ADDED_TOKENS)
    assert ids == list(range(base, base + len(ADDED_TOKENS))), ids
    tok.chat_template = DEFAULT_CHAT_TEMPLATE
    tok.eos_token = "<end_of_utterance>"
    image_processor = SmolVLMImageProcessorPil(
        do_resize=True, size={"longest_edge": sd.IMAGE_SIZE}, resample=1, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=[MEAN] * 3, image_std=[STD] * 3, do_convert_rgb=True, do_image_splitting=False,
        max_image_size={"longest_edge": sd.IMAGE_SIZE}, do_pad=True)
    return FixtureProcessor(image_processor=image_processor, tokenizer=tok, video_processor=None,
                            image_seq_len=NUM_IMAGE_TOKENS, chat_template=DEFAULT_CHAT_TEMPLATE)


def prompt_text(question):
    return f"<|im_start|>User:<image>{question}<end_of_utterance>\nAssistant:"


class Codec:
    """Token ids and pixels for training from cached pieces; checked against the processor."""

    def __init__(self, processor):
        self.processor = processor
        tok = self.tok = processor.tokenizer
        self.gguf_vocab = len(tok) - len(ADDED_TOKENS)
        self.first_added_id = self.gguf_vocab
        fake, self.image_id, glob, self.eos_id = tok.convert_tokens_to_ids(ADDED_TOKENS)
        self.pad_id = self.eos_id
        enc = lambda s: tok(s, add_special_tokens=False).input_ids  # noqa: E731
        self.newline = enc("\n")
        self.head = enc("<|im_start|>User:") + [fake, glob] + [self.image_id] * NUM_IMAGE_TOKENS + [fake]
        self.first_q = {q: enc(f"{q}<end_of_utterance>\nAssistant:") for q in sd.all_questions()}
        self.next_q = {q: enc(f"User: {q}<end_of_utterance>\nAssistant:") for q in sd.all_questions()}
        self.answer = {a: enc(" " + a) for a in sd.all_answers()}
        for a, ids in self.answer.items():
            assert len(ids) == 1, f"answer {a!r} is {len(ids)} tokens"
        self._check()

    def conversation(self, qa):
        ids, targets = list(self.head), []
        for i, (_, q, a) in enumerate(qa):
            ids += (self.first_q if i == 0 else self.next_q)[q]
            targets.append(len(ids))
            ids += self.answer[a]
            targets.append(len(ids))
            ids += [self.eos_id] + self.newline
        return ids, targets

    def isolated_questions(self, qa):
        """The image prompt once, then every question with its answer as if it were the only one:
        each segment reads the image prompt and itself, never another question's answer (a multi-turn
        conversation lets later answers follow from earlier ones without looking at the image).
        Returns (ids, position ids, segment of each token: -1 for the image prompt, targets)."""
        ids, segments, targets = list(self.head), [-1] * len(self.head), []
        positions = list(range(len(self.head)))
        for i, (_, q, a) in enumerate(qa):
            start = len(ids)
            ids += self.first_q[q]
            targets.append(len(ids))
            ids += self.answer[a]
            targets.append(len(ids))
            ids.append(self.eos_id)
            positions += range(len(self.head), len(self.head) + len(ids) - start)
            segments += [i] * (len(ids) - start)
        return ids, positions, segments, targets

    def prompt(self, question):
        return self.head + self.first_q[question]

    @staticmethod
    def pixels(image):
        x = np.asarray(image, dtype=np.uint8).astype(np.float32) * np.float32(1 / 255)
        return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))

    def _check(self):
        tok, proc = self.tok, self.processor
        expanded = ("<fake_token_around_image><global-img>" + "<image>" * NUM_IMAGE_TOKENS +
                    "<fake_token_around_image>")
        for seed in range(32):
            ex = sd.example(seed, extra_questions=3)
            q = ex["qa"][0][1]
            conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": q}]}]
            rendered = tok.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
            assert rendered == prompt_text(q), repr(rendered)
            inputs = proc(images=[[ex["image"]]], text=rendered, return_tensors="pt")
            assert inputs["input_ids"][0].tolist() == self.prompt(q), "prompt ids differ from the processor's"
            assert np.allclose(inputs["pixel_values"][0, 0].numpy(), self.pixels(ex["image"]), atol=1e-6, rtol=0)
            conv.append({"role": "assistant", "content": ex["qa"][0][2]})
            for (_, q2, a2) in ex["qa"][1:]:
                conv += [{"role": "user", "content": [{"type": "text", "text": q2}]},
                         {"role": "assistant", "content": a2}]
            text = tok.apply_chat_template(conv, tokenize=False).replace("<image>", expanded)
            ids, _ = self.conversation(ex["qa"])
            assert tok(text, add_special_tokens=False).input_ids == ids, "conversation ids differ"


class SceneWords:
    """What stage 2 teaches the image tokens to say: each of the 196 tokens becomes the embedding of
    one word, at the place of what it names. Background patches read " white"; a shape whose bounding
    box's centre lies in cell (r, c) of the 14 x 14 grid writes its colour at (r, c), its shape at
    (r, c + 1), " top" or " bottom" at (r + 1, c) and the digit of its centre's tenth of the width
    (floor(cx / 22.4): 0-4 left half, 5-9 right half) at (r + 1, c + 1). Boxes of 30 px or more at
    least 4 px apart put two centres at least two cells apart along one axis, so two shapes' cells
    never collide. With the image tokens aligned to single words the frozen model reads them as text:
    aligned to sums of words (colour + shape + quadrant on every covered patch), five runs of stage 3
    stayed under 43% dev accuracy; with this layout as the image, 25 steps reached 65%."""

    GRID = sd.IMAGE_SIZE // PATCH

    def __init__(self, tokenizer):
        def one(text):
            ids = tokenizer(text, add_special_tokens=False).input_ids
            assert len(ids) == 1, f"{text!r} is {len(ids)} tokens"
            return ids[0]

        self.words = ["white", *sd.COLOURS, *sd.SHAPES, "top", "bottom"]
        self.ids = {w: one(" " + w) for w in self.words} | {str(d): one(str(d)) for d in range(10)}
        self.vocabulary = torch.tensor(list(self.ids.values()))  # every id layout() can write
        self.background = self.ids["white"]
        self._class_of = torch.full((int(self.vocabulary.max()) + 1,), -1, dtype=torch.long)
        self._class_of[self.vocabulary] = torch.arange(len(self.vocabulary))

    def classes(self, layouts):
        """Each cell's index in self.vocabulary."""
        return self._class_of[layouts]

    def layout(self, shapes):
        """[196] int64 token ids (numpy), row-major like the image tokens."""
        g = np.full((self.GRID, self.GRID), self.background, dtype=np.int64)
        for s in shapes:
            r, c = int(s.cy) // PATCH, int(s.cx) // PATCH
            g[r, c], g[r, c + 1] = self.ids[s.colour], self.ids[s.kind]
            g[r + 1, c] = self.ids["top" if s.cy < sd.HALF else "bottom"]
            g[r + 1, c + 1] = self.ids[str(int(s.cx * 10 / sd.IMAGE_SIZE))]
        return g.reshape(-1)


class LoRALinear(torch.nn.Module):
    """base(x) + scale * x A^T B^T, base frozen; `name` is the base weight's name without ".weight"."""

    def __init__(self, base, name, rank, alpha):
        super().__init__()
        self.base, self.name, self.scale = base, name, alpha / rank
        # Frozen, and read in bfloat16 under autocast anyway: stored so, it is not cast at every step.
        base.to(torch.bfloat16)
        self.lora_A = torch.nn.Parameter(torch.randn(rank, base.in_features) / base.in_features ** 0.5)
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t().to(x.dtype)) @ self.lora_B.t().to(x.dtype) * self.scale


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def add_lora(model, rank, alpha, seed):
    torch.manual_seed(seed + 1)
    loras = []
    for name, module in list(model.model.text_model.named_modules()):
        for child in LORA_TARGETS:
            base = getattr(module, child, None)
            if isinstance(base, torch.nn.Linear):
                wrapped = LoRALinear(base, f"model.text_model.{name}.{child}", rank, alpha)
                setattr(module, child, wrapped)
                loras.append(wrapped)
    return loras


def build_model(args, codec):
    """SmolVLM with the GGUF's language model (as tools/build_shapes_smol.py reads it, checked against
    transformers' own GGUF reader), a fresh vision tower and connector; only those, the LoRA adapters and
    the added embedding rows train."""
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    gguf_config = load_gguf_checkpoint(str(args.gguf), return_tensors=False)["config"]
    text = {k: v for k, v in gguf_config.items() if k not in ("model_type", "_model_name_or_path", "architectures")}
    text.update(model_type="llama", vocab_size=codec.gguf_vocab + len(ADDED_TOKENS), tie_word_embeddings=True,
                eos_token_id=codec.eos_id, pad_token_id=codec.pad_id, bos_token_id=None)
    vision = dict(hidden_size=args.vision_hidden, intermediate_size=4 * args.vision_hidden,
                  num_hidden_layers=args.vision_layers, num_attention_heads=args.vision_heads, num_channels=3,
                  image_size=sd.IMAGE_SIZE, patch_size=PATCH, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    config = SmolVLMConfig(vision_config=vision, text_config=text, scale_factor=1, image_token_id=codec.image_id,
                           tie_word_embeddings=True)
    torch.manual_seed(args.seed)
    model = SmolVLMForConditionalGeneration(config).float()
    weights = build_shapes_smol.gguf_text_weights(args.gguf, text["num_attention_heads"], text["num_key_value_heads"])
    state = model.state_dict()
    with torch.no_grad():
        for k, v in weights.items():
            t = torch.from_numpy(v)
            if k.endswith("embed_tokens.weight"):
                added = state[k][codec.gguf_vocab:]
                scale = float(t.std())
                added.normal_(0.0, scale)
                t = torch.cat([t, added])
            state[k].copy_(t)
        proj = model.model.connector.modality_projection.proj.weight
        proj.normal_(0.0, float(torch.from_numpy(weights["model.text_model.embed_tokens.weight"]).std()) /
                     args.vision_hidden ** 0.5)
    model.tie_weights()
    assert model.lm_head.weight.data_ptr() == model.model.text_model.embed_tokens.weight.data_ptr()
    check_gguf_reading(args.gguf, weights, model)
    model.requires_grad_(False)
    model.model.vision_model.requires_grad_(True)
    model.model.connector.requires_grad_(True)
    model.model.text_model.embed_tokens.weight.requires_grad_(True)
    model.generation_config = GenerationConfig(eos_token_id=codec.eos_id, pad_token_id=codec.pad_id,
                                               do_sample=False, max_new_tokens=4)
    return model


def check_gguf_reading(gguf, weights, model):
    """Our numpy reading of the GGUF equals transformers' (which dequantizes with gguf-py too)."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    cfg = model.config.text_config.to_dict()
    cfg["vocab_size"] = weights["model.text_model.embed_tokens.weight"].shape[0]
    cfg["pad_token_id"] = None
    ref_model = LlamaForCausalLM(LlamaConfig(**cfg))
    ref = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=ref_model)["tensors"]
    for k, v in ref.items():
        ours = weights["model.text_model." + k.removeprefix("model.")]
        assert np.array_equal(np.asarray(v, dtype=np.float32), ours), k


def keep_only_added_rows(model, first_added):
    grad = model.model.text_model.embed_tokens.weight.grad
    if grad is not None:
        grad[:first_added] = 0


def check_forward(model, codec):
    """language_forward + lm_head equals SmolVLMForConditionalGeneration's own forward (float32)."""
    from train_shapes import conversation_batch
    _, ids, mask, _, _, pix, _ = conversation_batch(codec, 0, 2, 2)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, pixel_values=pix[:, None]).logits
        got = model.lm_head(language_forward(model, ids, mask, pix, codec.image_id)[0])
    assert torch.allclose(ref, got, atol=1e-4, rtol=0), float((ref - got).abs().max())


def vision_features(model, pix):
    return model.model.vision_model(pixel_values=pix).last_hidden_state


def isolated_batch(codec, step, batch, turns):
    """Codec.isolated_questions of `batch` training images: (ids lists, ids, [batch, 1, T, T] boolean
    attention mask, position ids, target rows, target columns, pixels, scenes)."""
    from train_shapes import encoded_batch, padded
    encoded, rows, cols, pix, shapes = encoded_batch(codec, step, batch, turns, codec.isolated_questions)
    ids_list = [ids for ids, _, _, _ in encoded]
    T = max(len(x) for x in ids_list)
    position_ids = padded([positions for _, positions, _, _ in encoded], 0, T)
    segment = padded([segments for _, _, segments, _ in encoded], -2, T)  # padding: reads the prompt and padding
    causal = torch.ones((T, T), dtype=torch.bool).tril()
    reads = (segment[:, None, :] == -1) | (segment[:, :, None] == segment[:, None, :])
    mask = (reads & causal)[:, None]
    return ids_list, padded(ids_list, codec.pad_id, T), mask, position_ids, rows, cols, pix, shapes


def check_isolation(model, codec):
    """Each question of an isolated batch gets the logits it gets alone after the image prompt."""
    _, ids, mask, pos, rows, cols, pix, _ = isolated_batch(codec, 0, 1, 4)
    ex = sd.example(sd.split_seed("train", 0), extra_questions=3)
    with torch.no_grad():
        packed = model.lm_head(language_forward(model, ids, mask, pix, codec.image_id, position_ids=pos)[0])
        for i, (_, q, a) in enumerate(ex["qa"]):
            alone_ids = torch.tensor([codec.prompt(q) + codec.answer[a]])
            alone = model.lm_head(language_forward(model, alone_ids, torch.ones_like(alone_ids), pix,
                                                   codec.image_id)[0])
            for j in (2 * i, 2 * i + 1):
                got, want = packed[0, cols[j] - 1], alone[0, len(codec.prompt(q)) - 1 + (j - 2 * i)]
                assert torch.allclose(got, want, atol=1e-4, rtol=0), float((got - want).abs().max())


def language_forward(model, ids, mask, pix, image_id, probe_layer=None, position_ids=None):
    """(final hidden states, hidden states after layer probe_layer) of SmolVLM's forward; `mask` is a
    [batch, T] padding mask or a [batch, 1, T, T] boolean one (isolated_batch)."""
    emb = model.model.text_model.embed_tokens(ids)
    image = model.model.connector(vision_features(model, pix))
    emb = emb.masked_scatter((ids == image_id).unsqueeze(-1).expand_as(emb), image.to(emb.dtype))
    out = model.model.text_model(inputs_embeds=emb, attention_mask=mask, position_ids=position_ids,
                                 output_hidden_states=probe_layer is not None)
    return out.last_hidden_state, (out.hidden_states[probe_layer] if probe_layer is not None else None)


def count_params(model):
    n = {"vision_model": 0, "connector": 0, "text_model (frozen SmolLM2, LoRA not counted)": 0, "lora": 0}
    for name, p in model.named_parameters():
        if "lora_" in name:
            n["lora"] += p.numel()
        elif name.startswith("model.vision_model."):
            n["vision_model"] += p.numel()
        elif name.startswith("model.connector."):
            n["connector"] += p.numel()
        elif name.startswith("model.text_model."):
            n["text_model (frozen SmolLM2, LoRA not counted)"] += p.numel()
    return n


class WordProbeBPE(WordProbe):
    """tools/shapes_probes.WordProbe for SmolLM2's byte-level BPE: shape words singular and plural,
    colour words, and the quadrant phrases ("top-left" is three tokens; the probe reads the last)."""

    def __init__(self, hidden, tokenizer):
        torch.nn.Module.__init__(self)
        from shapes_probes import WORD_CLASSES
        self.linear = torch.nn.Linear(hidden, sum(WORD_CLASSES))

        def token(word):
            ids = tokenizer(" " + word, add_special_tokens=False).input_ids
            assert len(ids) == 1, word
            return ids[0]

        self.shape_words = {token(s): s for s in sd.SHAPES} | {token(sd.PLURAL[s]): s for s in sd.SHAPES}
        self.colour_words = {token(c): c for c in sd.COLOURS}
        self.quadrant_phrases = {tuple(tokenizer(" " + q, add_special_tokens=False).input_ids): i
                                 for i, q in enumerate(sd.QUADRANTS)}
        self.quadrant_words = {-(i + 1): i for i in range(len(sd.QUADRANTS))}

    def batch_targets(self, ids_list, shapes_list):
        rows, cols, targets = [], [], []
        for b, (ids, shapes) in enumerate(zip(ids_list, shapes_list)):
            for j, token in enumerate(ids):
                quadrant = self.quadrant_phrases.get(tuple(ids[max(0, j - 2):j + 1]))
                t = self.targets(shapes, -(quadrant + 1) if quadrant is not None else token)
                if t is not None:
                    rows.append(b)
                    cols.append(j)
                    targets.append(t)
        return torch.tensor(rows), torch.tensor(cols), torch.tensor(targets, dtype=torch.long)
