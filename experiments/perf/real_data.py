"""Issue #21's published runs on real data: every flow-input baseline on STSTNet's released
MEGC 2019 composite (``megc2019-flow``), full LOSO and leave-one-database-out, three seeds.

Each run is ``zoo bench`` exactly as the README gives it (default executor, every core), one
after another, writing into ``leaderboard/results/`` with its log in
``experiments/perf/results/logs/real/``; a run already published is skipped and an interrupted
one resumes (``zoo bench`` picks up its finished folds), so the script can be stopped and
started again. ``--note`` records what else ran on the machine in ``real_data_runs.json``.

    python -m experiments.perf.real_data --data-root ~/data/HTNet/datasets [--only ststnet] [--protocol loso]
    python -m experiments.perf.real_data --data-root ... --list      # the plan and what is published
    python -m experiments.perf.real_data --summary                   # real_data.md from the published runs

The inputs are not part of mer-zoo: get them from HTNet's repository (README, "Results on real
data").
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from experiments.perf._evidence import RESULTS, SUMMARY, bench, existing

DATASET = "megc2019-flow"
SEEDS = (0, 1, 2)
RUNS_FILE = SUMMARY / "real_data_runs.json"


@dataclass(frozen=True)
class Configuration:
    """One leaderboard row: a model with its registered recipe unless ``overrides`` says (and
    then the leaderboard marks the row as departing from the recipe)."""

    model: str
    options: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, object] = field(default_factory=dict)
    protocols: tuple[str, ...] = ("loso", "lodo")

    @property
    def name(self) -> str:
        extra = [f"{k}={v}" for k, v in {**self.options, **self.overrides}.items()]
        return "-".join([self.model, *extra])


# cheapest first; each its registered recipe, except OFF-ApexNet's shorter LOSO budget: its
# 3,000 epochs cost about 10 h per LOSO seed on 2 cores (docs/baselines.md), so 200 epochs
# is published as its own row, marked as departing from the recipe, before the full recipe;
# and STSTNet in its release's batch order (the one known difference from the official
# re-run, docs/baselines.md), its own row too
PLAN = (
    Configuration("ststnet"),
    Configuration("ststnet", overrides={"order": "by-class"}, protocols=("loso",)),
    Configuration("dual-inception"),
    Configuration("timm-flow", {"backbone": "resnet18"}),
    Configuration("timm-flow", {"backbone": "mobilenetv3_small_100"}, protocols=("loso",)),
    Configuration("off-apexnet", overrides={"epochs": 200}, protocols=("loso",)),
    Configuration("off-apexnet"),
)


def published(config: Configuration, seed: int, protocol: str) -> dict | None:
    return existing(config.model, config.options, seed, DATASET, overrides=config.overrides, protocol=protocol)


def record(entry: dict) -> None:
    """Append one finished run's wall time and circumstances to ``real_data_runs.json``."""
    runs = json.loads(RUNS_FILE.read_text()) if RUNS_FILE.is_file() else []
    RUNS_FILE.write_text(json.dumps([*runs, entry], indent=1) + "\n")


def summary() -> str:
    """The published real-data rows as the README shows them: per model and protocol, the whole
    composite and each part, reproduced mean ± std over seeds, the published figures and Δ."""
    from leaderboard.check import load_runs
    from leaderboard.render import ci, number, spread, versus_top
    from leaderboard.table import build_tables, registered_models

    tables = build_tables(load_runs([RESULTS]).runs, registered_models(), DATASET)
    lines = ["| protocol | part | model | seeds | UF1 | UF1 95% CI | UAR | published UF1 / UAR | Δ UF1 | vs top |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for table in tables:
        for row in (r for r in table.rows if r.reproduced and r.inputs == DATASET):
            published = "; ".join(f"{number(r.uf1)} / {number(r.uar)}{'‡' if r.uar_is == 'macro-precision' else ''}"
                                  f"{'†' if r.leaks_test_subject else ''} ({r.variant})" for r in row.published) or "—"
            deltas = "; ".join(f"{row.delta(r, 'uf1'):+.3f}" for r in row.published) or "—"
            name = row.model + ("" if row.variant == "default" else f" ({row.variant})")
            name += f" [differs: {'; '.join(row.recipe)}]" if row.recipe else ""
            lines.append(f"| {table.benchmark.protocol} | {table.benchmark.part or 'all'} | {name} | {len(row.runs)} | "
                         f"{spread(row, 'uf1')} | {ci(row, 'uf1')} | {spread(row, 'uar')} | {published} | {deltas} | "
                         f"{versus_top(row)} |")
    return "\n".join(lines) + "\n"


def costs() -> str:
    """What each published configuration cost: wall seconds per seed as ``real_data_runs.json``
    recorded them, with the CPU, threads and what else ran."""
    runs = json.loads(RUNS_FILE.read_text()) if RUNS_FILE.is_file() else []
    lines = ["| configuration | protocol | seed | wall s | CPU | threads | also running |", "|---|---|---|---|---|---|---|"]
    for run in sorted(runs, key=lambda r: (r["configuration"], r["protocol"], r["seed"])):
        cpu = f"{run['cpu']['model']} ({', '.join(run['cpu']['flags']) or 'no AVX2'})"
        lines.append(f"| {run['configuration']} | {run['protocol']} | {run['seed']} | {run['wall_s']:.0f} | {cpu} | "
                     f"{run['threads']} | {run['also_running']} |")
    return "\n".join(lines) + "\n"


def write_summary() -> None:
    (SUMMARY / "real_data.md").write_text(
        "# Published runs on megc2019-flow\n\nWritten by `python -m experiments.perf.real_data --summary` from "
        "`leaderboard/results/` and `real_data_runs.json`.\n\n" + summary() + "\n## What each run cost\n\n" + costs())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", help="folder holding STSTNet's released images and sheet (to run)")
    parser.add_argument("--only", help="comma-separated configuration names (default: all)")
    parser.add_argument("--protocol", choices=("loso", "lodo"), help="one protocol only")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--note", default="nothing else", help="what else ran on the machine")
    parser.add_argument("--list", action="store_true", help="print the plan and what is published")
    parser.add_argument("--summary", action="store_true", help="only write real_data.md from the published runs")
    args = parser.parse_args()
    if args.summary:
        write_summary()
        return
    if not args.data_root and not args.list:
        parser.error("--data-root is needed to run")
    only = set(args.only.split(",")) if args.only else None
    seeds = [int(s) for s in args.seeds.split(",")]
    todo = [
        (config, protocol, seed)
        for protocol in ("loso", "lodo")
        if args.protocol in (None, protocol)
        for config in PLAN
        if protocol in config.protocols and (only is None or config.name in only or config.model in only)
        for seed in seeds
    ]
    for config, protocol, seed in todo:
        done = published(config, seed, protocol)
        if args.list or done:
            status = f"published {done['run_id']} UF1 {done['metrics']['uf1']:.3f}" if done else "to run"
            print(f"{config.name} {protocol} seed {seed}: {status}", flush=True)
            continue
        log = SUMMARY / "logs" / "real" / f"{config.name}-{protocol}-s{seed}.log"
        print(f"{config.name} {protocol} seed {seed}: running, log {log.relative_to(SUMMARY.parents[2])}", flush=True)
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        seconds = bench(config.model, config.options, seed, log, dataset=DATASET, overrides=config.overrides,
                        extra=("--data-root", args.data_root), device="auto", protocol=protocol)
        root = f"{SUMMARY.parents[2]}/"  # no machine path published: the data root and the checkout's
        log.write_text(log.read_text().replace(args.data_root, "DATA_ROOT").replace(root, ""))
        result = published(config, seed, protocol)
        record({"configuration": config.name, "protocol": protocol, "seed": seed, "run_id": result["run_id"],
                "started": started, "wall_s": seconds, "also_running": args.note,
                "cpu": result["environment"]["cpu"], "threads": result["environment"]["torch_threads"],
                "uf1": result["metrics"]["uf1"]})
        print(f"  UF1 {result['metrics']['uf1']:.3f} in {seconds:.0f} s", flush=True)
        write_summary()
        time.sleep(1)


if __name__ == "__main__":
    main()
