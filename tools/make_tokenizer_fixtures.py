#!/usr/bin/env python3
"""Tokenizer fixtures for the two checkpoint layouts without tokenizer.json.

* qwen2_vocab_merges/: the Qwen2 byte-level BPE of fixture_common.py (build_qwen2_tokenizer),
  saved by the slow Qwen2Tokenizer as vocab.json + merges.txt + tokenizer_config.json
  (added_tokens_decoder) + added_tokens.json + special_tokens_map.json.
* sentencepiece/: a tiny SentencePiece BPE model with byte fallback (trained here with the
  `sentencepiece` package on text this script writes), wrapped as the slow LlamaTokenizer
  (legacy, add_bos_token true, add_eos_token false: InternLM2Tokenizer's behaviour) with
  InternVL's and ChatML's special tokens added, saved as tokenizer.model + the json files.

Each directory gets cases.json: for every text, the ids with and without special tokens and the
decodes with and without skip_special_tokens, all from the slow transformers class reloaded from
the saved directory; for SentencePiece also "decoded_by_runs", the decode without
skip_special_tokens by lightvlm's rule (decode_by_runs), from the sentencepiece package. tests/io/tokenizer_files_golden_test.cc asserts equality.

usage: .venv/bin/python tools/make_tokenizer_fixtures.py --out tests/fixtures/tokenizers
"""
import argparse
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sentencepiece as spm  # noqa: E402
from transformers import LlamaTokenizer, Qwen2Tokenizer, Qwen2TokenizerFast  # noqa: E402

from fixture_common import TOKENIZER_CASES, build_qwen2_tokenizer, corpus_lines  # noqa: E402

SPECIALS = ["<img>", "</img>", "<IMG_CONTEXT>", "<|im_start|>", "<|im_end|>"]
SP_VOCAB_SIZE = 420  # 3 control pieces + 256 byte pieces + characters and merges

COMMON_CASES = TOKENIZER_CASES + [
    "digits 0123456789 and 007",
    "a\n\nb\n",
    "  two leading spaces",
    "x" * 40,
]
QWEN2_CASES = COMMON_CASES + [
    "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more",
    "<|im_end|><|im_end|>",
]
SP_CASES = COMMON_CASES + [
    "<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhat is it?<|im_end|>\n",
    "<s>hi</s> <unk>",
    " <img> spaced </img> ",
    "Hello<|im_end|>world",
    "caf\u00e9 \u00fcber \u00c5ngstr\u00f6m \u4e2d\u6587 \U0001F600",
]


def record_cases(tokenizer, texts):
    out = []
    for text in texts:
        with_special = tokenizer(text, add_special_tokens=True).input_ids
        without_special = tokenizer(text, add_special_tokens=False).input_ids
        out.append({
            "text": text,
            "ids": with_special,
            "ids_without_special": without_special,
            "decoded_skip_special": tokenizer.decode(with_special, skip_special_tokens=True),
            "decoded": tokenizer.decode(with_special, skip_special_tokens=False,
                                        spaces_between_special_tokens=False),
        })
    return out


def decode_by_runs(tokenizer, ids, skip_special):
    """lightvlm's SentencePiece decode (io/sentencepiece_tokenizer.h): each run of model pieces
    decoded by SentencePiece, added tokens verbatim between runs, special ones dropped first with
    skip_special. transformers' slow classes disagree among themselves without skip_special."""
    text, run = "", []
    for i in ids:
        token = tokenizer.added_tokens_decoder.get(i)
        if token is None:
            run.append(i)
        elif not (skip_special and token.special):
            text += tokenizer.sp_model.decode(run) + token.content
            run = []
    return text + tokenizer.sp_model.decode(run)


def write_cases(directory, cases):
    with open(directory / "cases.json", "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
        f.write("\n")


def make_qwen2(out):
    fast = build_qwen2_tokenizer()
    directory = out / "qwen2_vocab_merges"
    shutil.rmtree(directory, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        fast.save_pretrained(tmp)
        (Path(tmp) / "tokenizer.json").unlink()
        slow = Qwen2Tokenizer.from_pretrained(tmp)
        slow.save_pretrained(directory)
    (directory / "chat_template.jinja").unlink(missing_ok=True)
    slow = Qwen2Tokenizer.from_pretrained(directory)
    cases = record_cases(slow, QWEN2_CASES)
    # The fast tokenizer converted from these files must agree: both are "Qwen2's tokenizer".
    converted = Qwen2TokenizerFast.from_pretrained(directory)
    for case in cases:
        assert converted(case["text"]).input_ids == case["ids"], case["text"]
    assert all(c["ids"] == c["ids_without_special"] for c in cases)  # Qwen2 adds no bos or eos
    write_cases(directory, cases)


def sentencepiece_training_text():
    lines = list(corpus_lines())
    lines += ["Numbers like 12, 345 and 6789 appear in text.", "caf\u00e9 na\u00efve r\u00e9sum\u00e9"]
    return lines


def make_sentencepiece(out):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentencepiece_training_text()), model_writer=model,
        model_type="bpe", vocab_size=SP_VOCAB_SIZE, byte_fallback=True, split_digits=True,
        character_coverage=1.0, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    directory = out / "sentencepiece"
    shutil.rmtree(directory, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tokenizer.model").write_bytes(model.getvalue())
        # add_prefix_space=False: with its default (True) LlamaTokenizer's decode strips the first
        # piece's "▁" and SentencePiece then strips another, losing the space of " leading";
        # InternLM2Tokenizer keeps it. Encoding (legacy) is the same either way.
        tokenizer = LlamaTokenizer(vocab_file=str(Path(tmp) / "tokenizer.model"), legacy=True,
                                   add_bos_token=True, add_eos_token=False, add_prefix_space=False,
                                   clean_up_tokenization_spaces=False)
        tokenizer.add_special_tokens({"additional_special_tokens": SPECIALS})
        tokenizer.save_pretrained(directory)
    tokenizer = LlamaTokenizer.from_pretrained(directory, legacy=True)
    assert tokenizer.sp_model.get_piece_size() == SP_VOCAB_SIZE
    cases = record_cases(tokenizer, SP_CASES)
    for case in cases:
        # The rule gives transformers' own decode where transformers has one answer.
        assert decode_by_runs(tokenizer, case["ids"], True) == case["decoded_skip_special"]
        case["decoded_by_runs"] = decode_by_runs(tokenizer, case["ids"], False)
    # Byte fallback must be exercised: some case encodes to a <0xXX> piece.
    assert any(t.startswith("<0x") for c in cases for t in tokenizer.convert_ids_to_tokens(c["ids"]))
    write_cases(directory, cases)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    make_qwen2(args.out)
    make_sentencepiece(args.out)


if __name__ == "__main__":
    main()
