"""What every evidence script shares: find a published run, run ``zoo bench`` as a user would,
and summarize runs over seeds as JSON and a Markdown table.

Each run is a separate ``zoo bench`` process writing into ``leaderboard/results/`` (the
published rows); a run whose result already exists there is never repeated, so an evidence
script can be stopped and started again.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

from leaderboard.store import LATER_DEFAULTS, iter_results

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "leaderboard" / "results"
SUMMARY = ROOT / "experiments" / "perf" / "results"


def existing(model: str, options: dict[str, str], seed: int, dataset: str = "synth",
             overrides: dict[str, object] | None = None,
             pretraining: Callable[[dict | None], bool] | None = None, protocol: str = "loso") -> dict | None:
    """The published result of this configuration and seed, or ``None``; ``pretraining``,
    if given, must accept the result's ``pretraining`` record."""
    from registry.options import model_options

    wanted = model_options(model, options)
    # the epoch order is named only where it departs from the default (every recipe shuffles),
    # and a result written before --order existed shuffled
    hyper = {"order": LATER_DEFAULTS["order"], **(overrides or {})}
    for result in iter_results(RESULTS):
        if (
            result["model"]["name"] == model
            and result["seed"] == seed
            and result["dataset"]["name"] == dataset
            and result["protocol"]["name"] == protocol
            and result["model"]["options"] == wanted
            and all(result["hyperparameters"].get(k, LATER_DEFAULTS.get(k)) == v for k, v in hyper.items())
            and (pretraining is None or pretraining(result.get("pretraining")))
        ):
            return result
    return None


def bench(model: str, options: dict[str, str], seed: int, log: Path, *, dataset: str = "synth",
          overrides: dict[str, object] | None = None, threads: int | None = None,
          extra: tuple[str, ...] = (), device: str = "cpu", out: Path = RESULTS, protocol: str = "loso") -> float:
    """One ``zoo bench`` run into ``out`` (the published rows unless told otherwise); its wall
    time in seconds."""
    command = ["zoo", "bench", model, "--dataset", dataset, "--protocol", protocol, "--seed", str(seed),
               "--device", device, "--out", str(out), *extra]
    for key, value in options.items():
        command += ["--opt", f"{key}={value}"]
    for key, value in (overrides or {}).items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    env = {**os.environ, "COLUMNS": "120"}
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log, "w") as handle:
        subprocess.run(command, check=True, stdout=handle, stderr=subprocess.STDOUT, env=env)
    return round(time.perf_counter() - started, 1)


def summarize_runs(runs: list[dict]) -> dict:
    """Mean and spread over seeds of one configuration's runs."""
    row = {
        "seeds": [r["seed"] for r in runs],
        "run_ids": [r["run_id"] for r in runs],
        "duration_s": [r["duration_s"] for r in runs],
        # the folds' own training times: unlike duration_s, whole for a run resumed fold by fold
        "fold_seconds": [round(sum(f["seconds"] for f in r["folds"]), 1) for r in runs],
        "num_parameters": runs[0]["model"]["num_parameters"],
        "hyperparameters": runs[0]["hyperparameters"],
    }
    for metric in ("uf1", "uar", "accuracy"):
        values = [r["metrics"][metric] for r in runs]
        row[metric] = values
        # unrounded: a rounded mean, rounded again for display, can disagree with its own seeds
        row[f"{metric}_mean"] = statistics.fmean(values)
        row[f"{metric}_std"] = statistics.pstdev(values)
    return row


def markdown_table(rows: dict[str, dict], time_label: str = "LOSO s (sum of folds)") -> str:
    lines = [
        f"| configuration | seeds | UF1 mean ± std | UAR mean ± std | accuracy | UF1 per seed | {time_label} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {len(row['seeds'])} | {row['uf1_mean']:.3f} ± {row['uf1_std']:.3f} | "
            f"{row['uar_mean']:.3f} ± {row['uar_std']:.3f} | {row['accuracy_mean']:.3f} | "
            f"{', '.join(f'{v:.3f}' for v in row['uf1'])} | {statistics.fmean(row['fold_seconds']):.0f} |"
        )
    return "\n".join(lines) + "\n"
