#!/usr/bin/env python3
"""lightvlm's prefill and decode at 1 and 2 threads, with and without a competing CPU-bound
process, under OpenMP's default wait policy and under OMP_WAIT_POLICY=PASSIVE (issue 19).

Every configuration is one `lightvlm bench` process; the configurations run round-robin, repeat
after repeat, so that the machine's drift spreads over all of them. The competitor is one
single-threaded busy loop (a process that never sleeps: a compile, another engine) started just
before a run and killed after it.
    .venv/bin/python tools/threads_under_load.py -m /tmp/smol --out docs/results/threads_under_load.json
"""
import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUSY_LOOP = [sys.executable, "-c", "while True: pass"]


def bench(args, threads, wait_policy, test):
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if wait_policy != "default":
        env["OMP_WAIT_POLICY"] = wait_policy
    common = [args.lightvlm, "bench", "-m", args.model, "-t", str(threads), "--dtype", args.dtype,
              "--no-ceilings", "--json"]
    if test == "prefill":
        flags = ["--image", args.image, "--budgets", "1", "--repeats", "1", "--warmup", "1"]
    else:
        flags = ["--decode-context", "512", "--kv", "none", "--steps", str(args.steps)]
    result = subprocess.run(common + flags, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"lightvlm bench failed: {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    row = report["rows"][0]
    return row["prefill_ms"] if test == "prefill" else row["step_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a shaped LLaVA checkpoint")
    parser.add_argument("--image", default=str(REPO / "tests" / "fixtures" / "llava" / "image.png"))
    parser.add_argument("--lightvlm", default=str(REPO / "build" / "lightvlm"))
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tests", nargs="+", default=["prefill", "decode"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    configs = list(itertools.product(args.tests, args.threads, ["default", "PASSIVE"],
                                     [False, True]))
    samples = {config: [] for config in configs}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for config in configs:
            test, threads, policy, competing = config
            competitor = subprocess.Popen(BUSY_LOOP) if competing else None
            try:
                time.sleep(0.2 if competing else 0)
                samples[config].append(bench(args, threads, policy, test))
            finally:
                if competitor:
                    competitor.kill()
                    competitor.wait()
    rows = []
    for (test, threads, policy, competing), values in samples.items():
        rows.append({"test": test, "threads": threads, "omp_wait_policy": policy,
                     "competitor": competing, "median_ms": statistics.median(values),
                     "samples_ms": values})
    record = {"generator": "tools/threads_under_load.py", "model": args.model, "dtype": args.dtype,
              "decode": f"{args.steps} steps over a 512-entry cache, batch 1",
              "prefill": "the LLaVA image prompt (LLM prefill only, vision excluded)",
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "rows": rows}
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print("| test | threads | OMP_WAIT_POLICY | competitor | median ms |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['test']} | {row['threads']} | {row['omp_wait_policy']} | "
              f"{'one busy process' if row['competitor'] else 'none'} | {row['median_ms']:.1f} |")


if __name__ == "__main__":
    main()
