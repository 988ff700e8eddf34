#!/usr/bin/env python3
"""Writes the GGUF test fixtures under tests/fixtures/gguf/ with gguf-py (pinned in
tools/requirements.txt), the reference reader and writer of the format:

  types_v3.gguf, types_v2.gguf   one tensor of every supported type, metadata of every value
                                  type, a Llama-permuted attn_q / attn_k (v3 uses alignment 64)
  types.json                      what gguf.GGUFReader reports for both files (metadata, tensor
                                  infos) and the permutation's head counts
  types_expected.safetensors      each tensor dequantized by gguf.quants.dequantize (float32),
                                  and the attn_q / attn_k rows before the converter permuted them
  tokenizer_qwen2.gguf            the gpt2-style tokenizer of tests/fixtures/qwen2/model
  tokenizer_llama.gguf            the SentencePiece-style tokenizer of tests/fixtures/llama/model
                                  (their expected ids are those fixtures' tokenizer_cases.json)

With --smollm2 models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/get_models.sh fetches it)
it also writes smollm2_reference.json: every tensor's type and shape as GGUFReader reports them,
the first and last 64 dequantized values of a few tensors, and token ids of a few strings.

Usage: /work/main/.venv/bin/python tools/make_gguf_fixtures.py [--smollm2 PATH]
"""

import argparse
import json
import pathlib

import gguf
import numpy as np
import safetensors.numpy

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "gguf"
Q = gguf.GGMLQuantizationType
V = gguf.GGUFValueType

# Rows x columns of each tensor; columns hold whole blocks (32, or 256 for the K-quants).
QUANTIZED_WITH_GGUF = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]
RANDOM_BLOCKS = [Q.Q4_K, Q.Q5_K, Q.Q6_K]  # gguf.quants cannot quantize these
N_HEAD, N_HEAD_KV, HEAD_DIM, HIDDEN = 4, 2, 8, 16


def random_k_quant_blocks(qtype, n_blocks, rng):
    """Random bytes in the block layout, with the float16 scales set to finite values so that
    every dequantized value is finite (random bits could make NaN, which compares unequal)."""
    block_size, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    scales = rng.uniform(-0.05, 0.05, size=(n_blocks, 2)).astype(np.float16).view(np.uint8)
    if qtype == Q.Q6_K:  # d is the last 2 bytes
        blocks[:, -2:] = scales[:, :2]
    else:  # d and dmin are the first 4 bytes
        blocks[:, :4] = scales
    return blocks


def llama_converter_permute(weights, n_head):
    """The row order llama.cpp's convert_hf_to_gguf.py gives attn_q (n_head) and attn_k
    (n_head_kv): within each head, the two rotary halves are interleaved."""
    rows = weights.shape[0]
    return (weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def add_metadata(writer):
    writer.add_name("lightvlm gguf fixture")
    writer.add_key_value("test.u8", 200, V.UINT8)
    writer.add_key_value("test.i8", -100, V.INT8)
    writer.add_key_value("test.u16", 60000, V.UINT16)
    writer.add_key_value("test.i16", -30000, V.INT16)
    writer.add_key_value("test.u32", 4000000000, V.UINT32)
    writer.add_key_value("test.i32", -2000000000, V.INT32)
    writer.add_key_value("test.u64", 2**63 + 5, V.UINT64)
    writer.add_key_value("test.i64", -(2**62), V.INT64)
    writer.add_key_value("test.f32", 0.1, V.FLOAT32)
    writer.add_key_value("test.f64", 0.1, V.FLOAT64)
    writer.add_key_value("test.bool", True, V.BOOL)
    writer.add_key_value("test.string", "héllo ▁wörld", V.STRING)
    writer.add_key_value("test.ints", [1, -2, 3], V.ARRAY, sub_type=V.INT32)
    writer.add_key_value("test.floats", [0.5, -1.25], V.ARRAY, sub_type=V.FLOAT32)
    writer.add_key_value("test.strings", ["a", "", "ü"], V.ARRAY, sub_type=V.STRING)
    writer.add_key_value("test.bools", [True, False], V.ARRAY, sub_type=V.BOOL)
    writer.add_vocab_size(32)
    writer.add_block_count(1)
    writer.add_context_length(64)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(32)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)


def write_types_file(path, alignment, rng):
    writer = gguf.GGUFWriter(path, "llama")
    if alignment != gguf.GGUF_DEFAULT_ALIGNMENT:
        writer.add_custom_alignment(alignment)
    add_metadata(writer)
    expected = {}
    for qtype in QUANTIZED_WITH_GGUF:
        block_size = gguf.GGML_QUANT_SIZES[qtype][0]
        values = rng.standard_normal((3, 2 * max(block_size, 32))).astype(np.float32)
        stored = gguf.quants.quantize(values, qtype)
        name = f"tensor.{qtype.name}"
        writer.add_tensor(name, stored, raw_dtype=None if qtype in (Q.F32, Q.F16) else qtype)
        expected[name] = gguf.quants.dequantize(stored, qtype).astype(np.float32)
    for qtype in RANDOM_BLOCKS:
        blocks = random_k_quant_blocks(qtype, 2 * 2, rng).reshape(2, -1)  # 2 rows of 2 blocks
        name = f"tensor.{qtype.name}"
        writer.add_tensor(name, blocks, raw_dtype=qtype)
        expected[name] = gguf.quants.dequantize(blocks, qtype).astype(np.float32)
    for name, heads in (("blk.0.attn_q.weight", N_HEAD), ("blk.0.attn_k.weight", N_HEAD_KV)):
        original = rng.standard_normal((heads * HEAD_DIM, HIDDEN)).astype(np.float32)
        writer.add_tensor(name, llama_converter_permute(original, heads))
        expected[name] = original
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def plain(value):
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    return value


def describe(path):
    """What gguf.GGUFReader reports, as JSON for the C++ test to compare against."""
    reader = gguf.GGUFReader(path)
    metadata = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        entry = {"type": field.types[0].name}
        if field.types[0] == V.ARRAY:
            entry["element_type"] = field.types[1].name
        entry["value"] = plain(field.contents())
        metadata[key] = entry
    tensors = [{"name": t.name, "type": t.tensor_type.name, "dims": plain(list(t.shape)),
                "offset": int(t.data_offset - reader.data_offset)} for t in reader.tensors]
    version = int(reader.fields["GGUF.version"].parts[-1][0])
    return {"version": version, "alignment": int(reader.alignment), "metadata": metadata,
            "tensors": tensors}


def write_tokenizer_gguf(path, family, pre):
    """Tokenizer metadata as llama.cpp's converter writes it, from a tokenizer.json fixture."""
    tokenizer = json.loads((ROOT / "tests" / "fixtures" / family / "model" / "tokenizer.json")
                           .read_text())
    model = tokenizer["model"]
    added = {t["id"]: t for t in tokenizer["added_tokens"]}
    size = max(max(model["vocab"].values()), max(added)) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.USER_DEFINED] * size
    for token, token_id in model["vocab"].items():
        tokens[token_id] = token
        types[token_id] = gguf.TokenType.NORMAL
    for token_id, token in added.items():
        tokens[token_id] = token["content"]
        types[token_id] = gguf.TokenType.CONTROL if token["special"] else gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    writer = gguf.GGUFWriter(path, "qwen2" if pre else "llama")
    writer.add_token_list(tokens)
    if pre:  # gpt2 style: the merges themselves
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre)
        writer.add_token_merges(merges)
        writer.add_add_bos_token(False)
        writer.add_eos_token_id(added_id(added, "<|endoftext|>"))
    else:
        # SentencePiece style: scores instead of merges. A SentencePiece BPE model scores each
        # piece by its merge order (earlier merges score higher); the fixture has no
        # tokenizer.model, so the scores are rebuilt that way from the merge list.
        scores = [0.0] * size
        for rank, merge in enumerate(merges):
            merged = merge.replace(" ", "")
            if scores[model["vocab"][merged]] == 0.0:
                scores[model["vocab"][merged]] = -float(rank + 1)
        for token_id, token in enumerate(tokens):
            if token.startswith("<0x") and len(token) == 6:
                types[token_id] = gguf.TokenType.BYTE
        types[model["vocab"][model["unk_token"]]] = gguf.TokenType.UNKNOWN
        writer.add_tokenizer_model("llama")
        writer.add_token_scores(scores)
        writer.add_add_bos_token(True)
        writer.add_bos_token_id(added_id(added, "<s>"))
        writer.add_eos_token_id(added_id(added, "</s>"))
        writer.add_unk_token_id(added_id(added, "<unk>"))
        writer.add_add_space_prefix(True)
    writer.add_token_types(types)
    writer.add_chat_template("{{ messages[0]['content'] }}")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def added_id(added, content):
    return next(i for i, t in added.items() if t["content"] == content)


def set_version(path, version):
    """GGUF v2 and v3 share one layout (v3 only added big-endian files), so a v2 file is the
    v3 file with version 2 in bytes 4..8."""
    data = bytearray(path.read_bytes())
    data[4:8] = version.to_bytes(4, "little")
    path.write_bytes(bytes(data))


# ---- the real SmolLM2 file ----

SMOLLM2_SAMPLED = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                   "blk.0.ffn_down.weight", "blk.29.attn_norm.weight", "output_norm.weight"]
SMOLLM2_TEXTS = ["Hello world", "The year 2024 had 366 days.", "  spaces\tand\nnewlines  ",
                 "naïve café, Zürich — 東京", "I'm sure you'll see it's fine", "x=a+b*12345;",
                 "<|im_start|>user\nHi!<|im_end|>"]


def smollm2_token_ids(reader, texts):
    """Ids from Hugging Face `tokenizers` built from the GGUF's own vocabulary and merges with
    the pre-tokenizer llama.cpp names "smollm": each digit alone (\\p{N}), then the GPT-2 regex
    (tokenizers' Digits(individual_digits) and ByteLevel(use_regex) are those two regexes).
    Control tokens are added as special tokens, as llama.cpp matches them in the text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, AddedToken

    def strings(key):
        return reader.fields[key].contents()

    tokens, types = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ")) for m in strings("tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tokenizer = Tokenizer(models.BPE(vocab, merges))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                  for t, kind in zip(tokens, types) if kind == gguf.TokenType.CONTROL])
    return [{"text": t, "ids": tokenizer.encode(t, add_special_tokens=False).ids} for t in texts]


def write_smollm2_reference(path):
    reader = gguf.GGUFReader(path)
    tensors = [{"name": t.name, "type": t.tensor_type.name, "dims": plain(list(t.shape))}
               for t in reader.tensors]
    samples = {}
    by_name = {t.name: t for t in reader.tensors}
    for name in SMOLLM2_SAMPLED:
        tensor = by_name[name]
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32).ravel()
        samples[name] = {"first": plain(list(values[:64])), "last": plain(list(values[-64:]))}
    reference = {"file": pathlib.Path(path).name, "size": pathlib.Path(path).stat().st_size,
                 "tensors": tensors, "samples": samples,
                 "tokenized": smollm2_token_ids(reader, SMOLLM2_TEXTS)}
    (OUT / "smollm2_reference.json").write_text(json.dumps(reference, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smollm2", help="path of SmolLM2-135M-Instruct.Q4_1.gguf")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(15)
    expected = write_types_file(OUT / "types_v3.gguf", 64, rng)
    write_types_file(OUT / "types_v2.gguf", gguf.GGUF_DEFAULT_ALIGNMENT, np.random.default_rng(15))
    set_version(OUT / "types_v2.gguf", 2)
    safetensors.numpy.save_file({k: np.ascontiguousarray(v) for k, v in expected.items()},
                                OUT / "types_expected.safetensors")
    description = {name: describe(OUT / name) for name in ("types_v2.gguf", "types_v3.gguf")}
    description["permutation"] = {"n_head": N_HEAD, "n_head_kv": N_HEAD_KV}
    (OUT / "types.json").write_text(json.dumps(description, indent=1, ensure_ascii=False) + "\n")
    write_tokenizer_gguf(OUT / "tokenizer_qwen2.gguf", "qwen2", pre="qwen2")
    write_tokenizer_gguf(OUT / "tokenizer_llama.gguf", "llama", pre=None)
    if args.smollm2:
        write_smollm2_reference(args.smollm2)


if __name__ == "__main__":
    main()
