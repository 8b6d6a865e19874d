"""Evidence for the baseline zoo: every published baseline, full LOSO on ``synth`` under the
synth budget, three seeds; targets: under 10 minutes per run on 2 cores and UF1 well above
chance (5 classes: 0.2).

Each run is a ``zoo bench`` process with every core; runs go one after another (timings are
only comparable when nothing else runs: the summary says what else was running, ``--note``).
Result files are the published leaderboard rows (``leaderboard/results/``); a run already
there is not repeated. Summary: ``benchmarks/perf/results/baseline_zoo.{json,md}``.

    python benchmarks/perf/baseline_zoo.py [--models ststnet,mmnet] [--note "CI ran beside it"]
"""

from __future__ import annotations

import argparse
import json
import os
import platform

from benchmarks.perf._evidence import SUMMARY, bench, existing, markdown_table, summarize_runs

SEEDS = (0, 1, 2)
MODELS = ("ststnet", "off-apexnet", "dual-inception", "rcn", "htnet", "mmnet", "timm-flow", "timm-diff",
          "timm-apex")
OPTIONS: dict[str, dict[str, str]] = {}  # model -> --opt values, where the default is not the one to publish
TARGETS = {"max_seconds": 600, "min_uf1": 0.3}


def summarize(models: tuple[str, ...]) -> dict:
    rows = {}
    for model in models:
        runs = [r for r in (existing(model, OPTIONS.get(model, {}), s) for s in SEEDS) if r]
        if runs:
            row = summarize_runs(runs)
            row["met"] = max(row["duration_s"]) <= TARGETS["max_seconds"] and row["uf1_mean"] >= TARGETS["min_uf1"]
            rows[model] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="Comma-separated model names.")
    parser.add_argument("--note", default="nothing else running", help="What else ran on the machine.")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    models = tuple(m for m in args.models.split(",") if m)
    if not args.summary_only:
        for model in models:
            for seed in SEEDS:
                if existing(model, OPTIONS.get(model, {}), seed) is None:
                    seconds = bench(model, OPTIONS.get(model, {}), seed, SUMMARY / "logs" / f"{model}-s{seed}.log")
                    print(f"{model} seed {seed}: {seconds} s", flush=True)
    previous = SUMMARY / "baseline_zoo.json"
    report = json.loads(previous.read_text()) if previous.is_file() else {"rows": {}}
    rows = {**report["rows"], **summarize(models)}
    report = {
        "dataset": "synth",
        "protocol": "loso",
        "budget": "synth budget (15 epochs; 112 px unless the model fixes its input size)",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "targets": TARGETS,
        "note": args.note,
        "rows": rows,
    }
    SUMMARY.mkdir(parents=True, exist_ok=True)
    previous.write_text(json.dumps(report, indent=1))
    table = markdown_table(rows)
    (SUMMARY / "baseline_zoo.md").write_text(table + f"\nWhile measuring: {args.note}.\n")
    print(table)


if __name__ == "__main__":
    main()
