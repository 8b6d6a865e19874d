"""Issue #21's published runs on real data: every flow-input baseline on STSTNet's released
MEGC 2019 composite (``megc2019-flow``), full LOSO and leave-one-database-out, three seeds.

Each run is ``zoo bench`` exactly as the README gives it (default executor, every core), one
after another, writing into ``leaderboard/results/`` with its log in
``experiments/perf/results/logs/real/``; a run already published is skipped and an interrupted
one resumes (``zoo bench`` picks up its finished folds), so the script can be stopped and
started again. ``--note`` records what else ran on the machine in ``real_data_runs.json``.

    python -m experiments.perf.real_data --data-root ~/data/HTNet/datasets [--only ststnet] [--protocol loso]
    python -m experiments.perf.real_data --data-root ... --list      # the plan and what is published

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

from experiments.perf._evidence import SUMMARY, bench, existing

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


# cheapest first; each its registered recipe
PLAN = (
    Configuration("ststnet"),
    Configuration("dual-inception"),
    Configuration("timm-flow", {"backbone": "resnet18"}),
    Configuration("timm-flow", {"backbone": "mobilenetv3_small_100"}, protocols=("loso",)),
    Configuration("off-apexnet"),
)


def published(config: Configuration, seed: int, protocol: str) -> dict | None:
    return existing(config.model, config.options, seed, DATASET, overrides=config.overrides, protocol=protocol)


def record(entry: dict) -> None:
    """Append one finished run's wall time and circumstances to ``real_data_runs.json``."""
    runs = json.loads(RUNS_FILE.read_text()) if RUNS_FILE.is_file() else []
    RUNS_FILE.write_text(json.dumps([*runs, entry], indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", required=True, help="folder holding STSTNet's released images and sheet")
    parser.add_argument("--only", help="comma-separated configuration names (default: all)")
    parser.add_argument("--protocol", choices=("loso", "lodo"), help="one protocol only")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--note", default="nothing else", help="what else ran on the machine")
    parser.add_argument("--list", action="store_true", help="print the plan and what is published")
    args = parser.parse_args()
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
        log.write_text(log.read_text().replace(args.data_root, "DATA_ROOT"))  # no machine path published
        result = published(config, seed, protocol)
        record({"configuration": config.name, "protocol": protocol, "seed": seed, "run_id": result["run_id"],
                "started": started, "wall_s": seconds, "also_running": args.note,
                "cpu": result["environment"]["cpu"], "threads": result["environment"]["torch_threads"],
                "uf1": result["metrics"]["uf1"]})
        print(f"  UF1 {result['metrics']['uf1']:.3f} in {seconds:.0f} s", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main()
