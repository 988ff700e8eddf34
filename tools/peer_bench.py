#!/usr/bin/env python3
"""lightvlm against llama.cpp on the same shaped checkpoint, run by run alternating (issue 19).

Driven by tools/peer_bench.sh, which builds llama.cpp and converts the checkpoints; this script
  split   writes a LLaVA checkpoint's CLIP tower and projector in the layout llama.cpp's own image
          encoder converter reads (tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py);
  run     times both engines, alternating process by process, and writes docs/results/peers_*.json;
  table   rewrites the table between the peer_bench markers of docs/RESULTS.md from those files.
Every measurement is one process per engine per repeat (A B A B ...): the machine's load drifts,
so the two engines of a pair always see neighbouring moments. Medians of the repeats are kept,
every sample is in the JSON.
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARK_BEGIN = "<!-- peer_bench:begin (tools/peer_bench.py table writes this block) -->"
MARK_END = "<!-- peer_bench:end -->"


def split_llava(args):
    """The CLIP tower as a CLIPVisionModel directory plus llava.projector (torch.save of the
    multi_modal_projector tensors), which is what llama.cpp's legacy LLaVA converter reads."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    src, out = Path(args.checkpoint), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = json.loads((src / "config.json").read_text())
    vision, projector = {}, {}
    # Only the tower's and projector's tensors are read: the 7B shape's LLM is 13 GB.
    for path in sorted(src.glob("*.safetensors")):
        with safe_open(path, framework="pt") as weights:
            for name in weights.keys():
                if name.startswith("vision_tower."):
                    vision[name[len("vision_tower."):]] = weights.get_tensor(name).float()
                elif name.startswith("multi_modal_projector."):
                    projector[name] = weights.get_tensor(name).float()
    if not vision or not projector:
        sys.exit(f"{src}: no vision_tower.* or multi_modal_projector.* tensors (not a LLaVA)")
    save_file(vision, out / "model.safetensors", metadata={"format": "pt"})
    torch.save(projector, out / "llava.projector")
    vision_config = dict(config["vision_config"], model_type="clip_vision_model",
                         architectures=["CLIPVisionModel"],
                         vision_feature_layer=config.get("vision_feature_layer", -2))
    # The converter records CLIP's text projection width; LLaVA never uses it.
    vision_config.setdefault("projection_dim", 768)
    (out / "config.json").write_text(json.dumps(vision_config, indent=1) + "\n")


def gguf_source(args):
    """The checkpoint as llama.cpp's converter should see it: its files linked, and tokenizer.json
    padded with unused tokens up to the LLM's vocab_size (the shaped checkpoints keep the tiny
    fixture tokenizer's 1002 tokens beside a real model's embedding rows; the converter sizes the
    vocabulary by the tokenizer and llama.cpp then refuses the embedding)."""
    src, out = Path(args.checkpoint).resolve(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        if path.name != "tokenizer.json" and not (out / path.name).exists():
            (out / path.name).symlink_to(path)
    vocab_size = json.loads((src / "config.json").read_text())["text_config"]["vocab_size"]
    tokenizer = json.loads((src / "tokenizer.json").read_text())
    vocab = tokenizer["model"]["vocab"]
    for token in tokenizer.get("added_tokens", []):  # the converter reads ids from the model's vocab
        vocab.setdefault(token["content"], token["id"])
    used = set(vocab.values())
    for token_id in range(vocab_size):
        if token_id not in used:
            vocab[f"<unused_{token_id}>"] = token_id
    (out / "tokenizer.json").write_text(json.dumps(tokenizer))


def run_command(command, env):
    """The command's stdout and stderr; exits naming the command when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr[-3000:]}")
    return result.stdout, result.stderr


class Engines:
    def __init__(self, args):
        self.args = args
        self.env = dict(os.environ, OMP_WAIT_POLICY=args.omp_wait_policy)
        self.llama = Path(args.llama_bin)
        self.gguf = Path(args.gguf_dir)
        self.threads = str(args.threads)
        # lightvlm's --dtype beside the llama.cpp type of equal bits (lightvlm's q4 is 5 bits a
        # weight with its bf16 scale and min per group of 32; Q4_1 the same grid, Q4_K_M 4.5-5).
        self.peer_type = {"bf16": "BF16", "int8": "Q8_0", "q4": args.q4_type}

    def lightvlm(self, *flags):
        command = [self.args.lightvlm, "bench", "-m", self.args.checkpoint, "--image",
                   self.args.image, "-t", self.threads, "--no-ceilings", "--json", *flags]
        out, _ = run_command(command, self.env)
        return json.loads(out)

    def llama_bench(self, gguf_type, *flags):
        command = [str(self.llama / "llama-bench"), "-m", str(self.gguf / f"{gguf_type}.gguf"),
                   "-t", self.threads, "-r", "1", "-o", "json", *flags]
        out, _ = run_command(command, self.env)
        return json.loads(out)[0]

    def batched_bench(self, gguf_type, prompt, generated, batch):
        command = [str(self.llama / "llama-batched-bench"), "-m",
                   str(self.gguf / f"{gguf_type}.gguf"), "-t", self.threads, "-tb", self.threads,
                   "-c", str((prompt + generated) * batch), "-b", "2048", "-ub", "512",
                   "-npp", str(prompt), "-ntg", str(generated), "-npl", str(batch),
                   "--output-format", "jsonl"]
        out, _ = run_command(command, self.env)
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return rows[-1]

    def transformers(self, test, *flags):
        command = [sys.executable, str(REPO / "tools" / "peer_transformers.py"), "--checkpoint",
                   self.args.checkpoint, "--image", self.args.image, "--threads", self.threads,
                   "--test", test, *flags]
        out, _ = run_command(command, self.env)
        return json.loads(out)

    def mtmd(self, gguf_type, question):
        """Time to first token from llama-mtmd-cli's own log (-v stamps every line): from the
        line that starts the image's encoding to the line printed after the first token. That
        leaves out the image's decoding and preprocessing and the few text tokens before the
        image, which lightvlm's time includes."""
        command = [str(self.llama / "llama-mtmd-cli"), "-m", str(self.gguf / f"{gguf_type}.gguf"),
                   "--mmproj", str(self.gguf / "mmproj.gguf"), "--image", self.args.image, "-p",
                   question, "-n", "1", "--temp", "0", "-t", self.threads, "-tb", self.threads,
                   "--chat-template", "vicuna", "-v"]
        out, err = run_command(command, self.env)
        log = out + err
        stamp = r"(\d+)\.(\d+)\.(\d+)\.(\d+) \w "
        start = re.search(stamp + r"encoding mtmd batch", log)
        encoded = re.search(r"mtmd batch encoding done in (\d+) ms", log)
        decoded = re.search(r"image decoded \(batch \d+/\d+\) in (\d+) ms", log)
        end = re.search(stamp + r"llama_perf_context_print:\s+load time", log)
        prompt = re.search(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens", log)
        if not (start and encoded and decoded and end and prompt):
            sys.exit(f"llama-mtmd-cli's log lacks its timing lines:\n{log[-3000:]}")

        def seconds(match):
            minutes, secs, ms, us = (int(g) for g in match.groups()[:4])
            return minutes * 60 + secs + ms / 1e3 + us / 1e6

        return {"vision_ms": float(encoded.group(1)), "image_prefill_ms": float(decoded.group(1)),
                "prompt_tokens": int(prompt.group(1)),
                "ttft_ms": (seconds(end) - seconds(start)) * 1e3}


def alternate(repeats, engines):
    """engines: name -> callable; each repeat runs each engine once, in turn."""
    return [{name: measure() for name, measure in engines.items()} for _ in range(repeats)]


def with_transformers(args, engines, measure):
    if args.with_transformers:
        engines["transformers"] = measure
    return engines


def median(values):
    return statistics.median(values)


def measure_prefill(engines, args):
    tokens = args.prefill_tokens

    def ours():
        report = engines.lightvlm("--prompt-tokens", str(tokens), "--budgets", "1", "--dtype",
                                  "bf16", "--repeats", "1", "--warmup", "1")
        row = report["rows"][0]
        return {"tokens": report["prompt_tokens"],
                "tokens_per_s": report["prompt_tokens"] / row["prefill_ms"] * 1e3}

    def theirs():
        test = engines.llama_bench("BF16", "-p", str(tokens), "-n", "0")
        return {"tokens": test["n_prompt"], "tokens_per_s": test["avg_ts"]}

    def pytorch():
        return engines.transformers("prefill", "--tokens", str(tokens))

    samples = alternate(args.repeats, with_transformers(
        args, {"lightvlm": ours, "llama_cpp": theirs}, pytorch))
    return summarize("prefill", "bf16 / BF16", samples, "tokens_per_s", higher_is_better=True)


def measure_decode(engines, args, dtype, batch):
    prompt, generated = args.decode_prompt_tokens, args.decode_tokens

    def ours():
        report = engines.lightvlm("--prompt-tokens", str(prompt), "--answer-tokens",
                                  str(generated), "--kv", "none", "--dtype", dtype, "--batch",
                                  str(batch))
        row = report["rows"][0]
        return {"prompt_tokens": report["context"],
                "tokens_per_s": row["tokens_per_s"]}

    def theirs():
        row = engines.batched_bench(engines.peer_type[dtype], prompt, generated, batch)
        return {"prompt_tokens": row["pp"], "tokens_per_s": row["speed_tg"]}

    def pytorch():
        return engines.transformers("decode", "--prompt-tokens", str(prompt), "--generated",
                                    str(generated))

    # transformers in bf16 at batch 1 only
    runs = {"lightvlm": ours, "llama_cpp": theirs}
    if dtype == "bf16" and batch == 1:
        runs = with_transformers(args, runs, pytorch)
    samples = alternate(args.repeats, runs)
    return summarize(f"decode batch {batch}", f"{dtype} / {engines.peer_type[dtype]}", samples,
                     "tokens_per_s", higher_is_better=True)


def measure_ttft(engines, args):
    keeps = [str(k) for k in args.keeps]

    def ours():
        report = engines.lightvlm("--budgets", *keeps, "--dtype", "bf16", "--repeats", "1",
                                  "--warmup", "0", "-p", args.question)
        return {f"keep {row['keep']:g}": {"ttft_ms": row["ttft_ms"], "prefill_ms": row["prefill_ms"],
                                          "vision_ms": report["vision_ms"],
                                          "prompt_tokens": report["prompt_tokens"]}
                for row in report["rows"]}

    def theirs():
        return engines.mtmd("BF16", args.question)

    def pytorch():
        return engines.transformers("ttft", "--question", args.question)

    samples = alternate(args.repeats, with_transformers(
        args, {"lightvlm": ours, "llama_cpp": theirs}, pytorch))
    rows = []
    for keep in samples[0]["lightvlm"]:
        keyed = [dict(sample, lightvlm=sample["lightvlm"][keep]) for sample in samples]
        rows.append(summarize(f"time to first token, {keep}", "bf16 / BF16 (vision f16)", keyed,
                              "ttft_ms", higher_is_better=False))
    return rows


def summarize(test, types, samples, key, higher_is_better):
    """Medians per engine, and how much faster lightvlm is than each other engine."""
    row = {"test": test, "types": types, "metric": key}
    for engine in samples[0]:
        row[engine] = median(sample[engine][key] for sample in samples)
    for engine in samples[0]:
        if engine != "lightvlm":
            ratio = row["lightvlm"] / row[engine]
            row[f"lightvlm_faster_than_{engine}"] = ratio if higher_is_better else 1 / ratio
    row["samples"] = samples
    return row


def loadavg():
    return os.getloadavg()


def run(args):
    """Appends to --out: a row measured again (same test and types) replaces the old one, rows of
    other tests stay, each with its own time, load and commit."""
    engines = Engines(args)
    out = Path(args.out)
    kept = json.loads(out.read_text())["results"] if out.exists() else []
    record = {
        "generator": "tools/peer_bench.sh", "shape": args.shape, "machine": cpu_model(),
        "threads": args.threads, "omp_wait_policy": args.omp_wait_policy,
        "llama_cpp": args.llama_cpp_version, "image": os.path.basename(args.image),
        "results": kept,
    }
    for test in args.tests:
        started, load_before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), loadavg()
        if test == "prefill":
            rows = [measure_prefill(engines, args)]
        elif test == "ttft":
            rows = measure_ttft(engines, args)
        else:  # decode-DTYPE-bBATCH
            _, dtype, batch = test.split("-")
            rows = [measure_decode(engines, args, dtype, int(batch[1:]))]
        for row in rows:
            row.update(started=started, load_average_before=load_before,
                       load_average_after=loadavg(), lightvlm_commit=git_commit(),
                       repeats=args.repeats)
            record["results"] = [r for r in record["results"]
                                 if (r["test"], r["types"]) != (row["test"], row["types"])]
            record["results"].append(row)
            print(json.dumps(row, indent=None)[:400], flush=True)
        # Written after every test: a long run that fails late keeps what it measured.
        out.write_text(json.dumps(record, indent=1) + "\n")


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip() + f", {os.cpu_count()} cores, {platform.machine()}"
    return platform.processor()


def git_commit():
    result = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True)
    return result.stdout.strip()


def fmt(value, metric):
    return f"{value / 1e3:.2f} s" if metric == "ttft_ms" else f"{value:.1f} t/s"


def table(args):
    lines = ["| shape | test | types | lightvlm | llama.cpp | lightvlm faster by | transformers (PyTorch, bf16) | runs, load average |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for path in sorted(args.files):
        record = json.loads(Path(path).read_text())
        for r in record["results"]:
            load = f"{r['load_average_before'][0]:.1f} to {r['load_average_after'][0]:.1f}"
            pytorch = "-"
            if "transformers" in r:
                pytorch = (f"{fmt(r['transformers'], r['metric'])} "
                           f"(lightvlm {r['lightvlm_faster_than_transformers']:.2f}x)")
            lines.append(f"| {record['shape']} | {r['test']} | {r['types']} | "
                         f"{fmt(r['lightvlm'], r['metric'])} | {fmt(r['llama_cpp'], r['metric'])} | "
                         f"**{r['lightvlm_faster_than_llama_cpp']:.2f}x** | {pytorch} | "
                         f"{len(r['samples'])} each, {load} |")
    results = Path(args.results)
    text = results.read_text()
    begin, end = text.find(MARK_BEGIN), text.find(MARK_END)
    if begin < 0 or end < begin:
        sys.exit(f"{results}: the peer_bench markers are missing")
    block = MARK_BEGIN + "\n" + "\n".join(lines) + "\n"
    results.write_text(text[:begin] + block + text[end:])
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    split = sub.add_parser("split", help="LLaVA checkpoint -> CLIP dir + llava.projector")
    split.add_argument("--checkpoint", required=True)
    split.add_argument("--out", required=True)
    source = sub.add_parser("gguf-source", help="checkpoint -> dir for llama.cpp's converter")
    source.add_argument("--checkpoint", required=True)
    source.add_argument("--out", required=True)
    bench = sub.add_parser("run", help="time both engines, alternating")
    bench.add_argument("--shape", required=True)
    bench.add_argument("--checkpoint", required=True, help="the shaped Hugging Face checkpoint")
    bench.add_argument("--gguf-dir", required=True, help="BF16.gguf, Q8_0.gguf, Q4_K_M.gguf, mmproj.gguf")
    bench.add_argument("--llama-bin", required=True)
    bench.add_argument("--llama-cpp-version", required=True)
    bench.add_argument("--lightvlm", default=str(REPO / "build" / "lightvlm"))
    bench.add_argument("--image", required=True)
    bench.add_argument("--question", default="Describe the image in detail.")
    bench.add_argument("--threads", type=int, default=2)
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--q4-type", default="Q4_K_M", help="llama.cpp's type beside --dtype q4")
    bench.add_argument("--with-transformers", action="store_true",
                       help="a third column: transformers on PyTorch (ttft, prefill, bf16 decode at batch 1)")
    bench.add_argument("--omp-wait-policy", default="PASSIVE")
    bench.add_argument("--prefill-tokens", type=int, default=512)
    bench.add_argument("--decode-prompt-tokens", type=int, default=256)
    bench.add_argument("--decode-tokens", type=int, default=32)
    bench.add_argument("--keeps", type=float, nargs="+", default=[1.0, 0.35])
    bench.add_argument("--tests", nargs="+", default=["ttft", "prefill", "decode-bf16-b1",
                       "decode-int8-b1", "decode-q4-b1", "decode-bf16-b8"])
    bench.add_argument("--out", required=True)
    tab = sub.add_parser("table", help="rewrite the table in docs/RESULTS.md")
    tab.add_argument("--results", default=str(REPO / "docs" / "RESULTS.md"))
    tab.add_argument("files", nargs="+")
    args = parser.parse_args()
    {"split": split_llava, "gguf-source": gguf_source, "run": run, "table": table}[args.command](args)


if __name__ == "__main__":
    main()
