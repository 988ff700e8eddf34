#!/usr/bin/env python3
"""Markdown tables for docs/RESULTS.md from the files `lightvlm eval --sweep --out PREFIX` writes.

Reads PREFIX.json (one object per run) and PREFIX_significance.json (lightvlm against every other
method at each budget, exact McNemar) and prints two tables: accuracy (retention) of every method
at every budget, bold where a method is ahead of `--method` with p < `--alpha`, and the paired
tests themselves. Nothing is computed here that the sweep did not write.

  tools/sweep_markdown.py docs/results/shapes_smol_test_bf16
"""
import argparse
import json


def budget_key(run):
    if run["final_tokens"] is not None:
        return ("tokens", run["final_tokens"])
    return ("keep", run["keep"])


def budget_label(key):
    kind, value = key
    return f"{value} tokens" if kind == "tokens" else f"keep {value:g}"


def percent(value):
    return f"{100 * value:.1f}%"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="the --out PREFIX of the sweep")
    parser.add_argument("--method", default="lightvlm", help="the method the tests compare")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    args = parser.parse_args()

    with open(args.prefix + ".json") as f:
        runs = json.load(f)
    with open(args.prefix + "_significance.json") as f:
        tests = json.load(f)

    none = next(run for run in runs if run["method"] == "none")
    budgets = []
    cells = {}
    for run in runs:
        if run["method"] == "none":
            continue
        key = budget_key(run)
        if key not in budgets:
            budgets.append(key)
        cells[(run["method"], key)] = run
    budgets.sort(key=lambda k: (k[0] == "tokens", -k[1]))
    methods = [args.method] + sorted({m for m, _ in cells} - {args.method})

    ahead = set()  # (other, budget) where the other method beats args.method significantly
    for test in tests:
        if test["method"] != args.method or test["other"] == "none":
            continue
        key = budget_key(test)
        if test["p_value"] < args.alpha and test["only_other_right"] > test["only_method_right"]:
            ahead.add((test["other"], key))

    print(f"`none`: {percent(none['accuracy'])} of {none['items']} items, "
          f"prefill {none['prefill_ms']:.0f} ms (median)\n")
    print("| method | " + " | ".join(budget_label(k) for k in budgets) + " |")
    print("|---" * (len(budgets) + 1) + "|")
    for method in methods:
        row = []
        for key in budgets:
            run = cells.get((method, key))
            if run is None:
                row.append("-")
                continue
            text = f"{percent(run['accuracy'])} ({percent(run['retention'])})"
            row.append(f"**{text}**" if (method, key) in ahead else text)
        print(f"| {method} | " + " | ".join(row) + " |")
    print()
    mine = [k for k in budgets if (args.method, k) in cells]
    if mine:
        print(f"LLM prefill of `{args.method}` (median ms) at " +
              ", ".join(budget_label(k) for k in mine) + ": " +
              ", ".join(f"{cells[(args.method, k)]['prefill_ms']:.0f}" for k in mine) +
              "; achieved share: " +
              ", ".join(f"{cells[(args.method, k)]['average_keep']:.3f}" for k in mine) + "\n")

    print(f"| {args.method} against | budget | points | only {args.method} right | "
          "only the other right | p (exact McNemar) |")
    print("|---|---|---|---|---|---|")
    for test in sorted(tests, key=lambda t: (t["other"], budgets.index(budget_key(t))
                                             if budget_key(t) in budgets else -1)):
        if test["method"] != args.method or test["other"] == "none":
            continue
        if budget_key(test) not in budgets:
            continue
        points = 100 * (test["method_accuracy"] - test["other_accuracy"])
        print(f"| {test['other']} | {budget_label(budget_key(test))} | {points:+.1f} | "
              f"{test['only_method_right']} | {test['only_other_right']} | {test['p_value']:.2g} |")


if __name__ == "__main__":
    main()
