"""Evidence for issue #4: MIACNet on ``synth`` (full LOSO, synth budget), from scratch vs. from
MA2MI pre-training on ``synth-macro``, over several seeds (the ablations run on ``synth-v2``).

Runs are ``zoo bench`` processes (one thread each, ``--jobs`` at a time) writing the published
result files into ``leaderboard/results/``; a run whose result file already exists is not
repeated. The MA2MI checkpoint is made once first (timed), through the same recipe
``zoo bench miacnet-ma2mi`` uses. The summary (mean +- std over seeds, timings) goes to
``experiments/perf/results/miacnet_evidence.{json,md}``.

    ZOO_CACHE=/tmp/zc-evidence python -m experiments.perf.miacnet_evidence --jobs 2
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from experiments.perf._evidence import SUMMARY, bench, existing, markdown_table, summarize_runs
from zoo.pretrain.checkpoints import checkpoint_file

WIDTH = "16"  # the CPU-sized trunk (see docs/miacnet.md); the paper's is width=64
SEEDS = (0, 1, 2)
# name -> (model, extra options). The ablations (position=off, diff=feature) run on synth-v2,
# where MIACNet learns enough for them to show (miacnet_v2_evidence.py).
CONFIGS = {
    "scratch": ("miacnet", {}),
    "ma2mi": ("miacnet-ma2mi", {}),
}


def options_of(extra: dict[str, str]) -> dict[str, str]:
    """Every row here was run with MMNet's fusion (``sum``), the default until synth-v2 chose
    ``gate``; pinned so the rows stay the ones published."""
    return {"width": WIDTH, "fusion": "sum", **extra}


def bench_after(model: str, options: dict[str, str], seed: int, log: Path, after=None) -> float:
    """One single-threaded run, after the future ``after`` (the pre-training), if given."""
    if after is not None:
        after.result()
    return bench(model, options, seed, log, threads=1)


def summarize() -> dict:
    rows = {}
    for name, (model, extra) in CONFIGS.items():
        runs = [r for r in (existing(model, options_of(extra), s) for s in SEEDS) if r]
        if runs:
            rows[name] = {"model": model, "options": options_of(extra), **summarize_runs(runs)}
    return rows


def write_summary(rows: dict, pretrain_s: float | None) -> None:
    SUMMARY.mkdir(parents=True, exist_ok=True)
    ma2mi_runs = [existing("miacnet-ma2mi", options_of({}), s) for s in SEEDS]
    payload = {
        "dataset": "synth",
        "protocol": "loso",
        "budget": "synth budget (15 epochs, 112 px)",
        "width": int(WIDTH),
        "pretrain_seconds": pretrain_s,
        # where the published runs found it, as they recorded it (portable)
        "checkpoint": next((r["pretraining"]["path"] for r in ma2mi_runs if r), None),
        "threads_per_run": 1,
        "rows": rows,
    }
    (SUMMARY / "miacnet_evidence.json").write_text(json.dumps(payload, indent=1))
    lines = [markdown_table(rows, "LOSO s, sum of folds (1 thread)").rstrip("\n")]
    lines.append(
        f"\nMA2MI pre-training (synth-macro, default settings, width {WIDTH}): "
        + (f"{pretrain_s} s" if pretrain_s is not None else "reused from cache (its time is in the run's log)")
    )
    (SUMMARY / "miacnet_evidence.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--summary-only", action="store_true", help="Only summarize the existing results.")
    parser.add_argument(
        "--pretrain-seconds", type=float, help="With --summary-only: measured pre-training time."
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the in-process pre-training takes one core, like each run
    logs = SUMMARY / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    from registry.options import model_options

    ma2mi_options = model_options("miacnet-ma2mi", options_of({}))
    pretrain_s = args.pretrain_seconds
    if not args.summary_only:
        order = [(n, s) for s in SEEDS for n in CONFIGS]
        queue = [(n, s) for n, s in order if not existing(CONFIGS[n][0], options_of(CONFIGS[n][1]), s)]
        with ThreadPoolExecutor(args.jobs) as pool:
            started = time.perf_counter()
            # pre-train once, on one worker, while the other starts the scratch runs
            made = pool.submit(checkpoint_file, "ma2mi-synth-macro", ma2mi_options)
            made.add_done_callback(
                lambda _: print(
                    f"MA2MI checkpoint ready after {time.perf_counter() - started:.1f} s", flush=True
                )
            )
            futures = {}
            for name, seed in queue:
                model, extra = CONFIGS[name]
                futures[f"{name} seed {seed}"] = pool.submit(
                    bench_after,
                    model,
                    options_of(extra),
                    seed,
                    logs / f"{name}-s{seed}.log",
                    made if name == "ma2mi" else None,
                )
            made.result()
            pretrain_s = round(time.perf_counter() - started, 1)
            for label, future in futures.items():
                print(f"{label}: {future.result()} s", flush=True)
    write_summary(summarize(), pretrain_s)
    print((SUMMARY / "miacnet_evidence.md").read_text())


if __name__ == "__main__":
    main()
