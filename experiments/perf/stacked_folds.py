"""Issue #12: STSTNet's official recipe (800 epochs, batch 256, Adam 5e-5, last epoch) on the
``megc2019-flow`` layout (442 clips, 68 LOSO folds), all folds trained as one stacked model
(``zoo.bench.jobs.run_folds_stacked``) against fold by fold (``run_fold``, what ``zoo bench``
runs). Target: the whole recipe within 10 minutes on 2 CPU cores, with the predictions of
fold-by-fold training.

The data is the generated fixture of STSTNet's released layout
(``tests/fixtures/mer_layouts.py``), prepared by the benchmark's own reader and cache, and
the folds are the runner's jobs (same seeds). Both ways train the first ``--folds`` folds
for ``--epochs`` epochs; the per-step time is taken between the ends of the first and the
last epoch (so set-up, ``torch.compile`` and prediction are left out), and the two ways'
predictions are compared. ``--full`` also trains the whole recipe stacked (all folds, the
official epochs). Writes ``experiments/perf/results/stacked_folds.{json,md}``.

    python -m experiments.perf.stacked_folds [--folds 4] [--epochs 3] [--threads 1] [--compile] [--full]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from zoo.models.ststnet import DEFAULTS as STSTNET_RECIPE

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results"


def fold_jobs(workdir: Path, epochs: int | None) -> tuple:
    """The prepared data and the runner's fold jobs of ``zoo bench ststnet --dataset megc2019-flow`` on the fixture."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fixtures.mer_layouts import write_megc2019_flow

    from benchmarks.preprocess import prepare
    from registry import DATASETS, PROTOCOLS
    from zoo.bench.jobs import FoldJob, fold_seed
    from zoo.bench.plan import BenchSpec, plan_benchmark, select_samples
    from zoo.engine.trainer import FoldData

    root = write_megc2019_flow(workdir / "megc2019-flow")
    overrides = {"epochs": epochs} if epochs else {}
    spec = BenchSpec("ststnet", "megc2019-flow", data_root=str(root), device="cpu", overrides=overrides)
    plan = plan_benchmark(spec)
    index = DATASETS.get("megc2019-flow").obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    prepared = prepare(index, plan.preprocess, workdir / "cache")
    data = FoldData(prepared.rows(keys), torch.tensor(labels), tuple(subjects))
    folds = PROTOCOLS.get("loso").obj(list(subjects), 0)
    return data, [
        FoldJob("ststnet", plan.options, plan.class_set.num_classes, fold, replace(plan.train, seed=fold_seed(0, number)))
        for number, fold in enumerate(folds, start=1)
    ]


def steps_per_epoch(job) -> int:
    return math.ceil(len(job.fold.train) / job.config.batch_size)


def per_step_ms(epoch_ends: list[float], jobs: list) -> float:
    """Milliseconds per fold and step between the first and the last epoch's end."""
    steps = sum(steps_per_epoch(job) for job in jobs) * (len(epoch_ends) - 1)
    return round((epoch_ends[-1] - epoch_ends[0]) / steps * 1000, 1)


def fold_by_fold(jobs: list, data) -> tuple[list, float]:
    from zoo.bench.jobs import run_fold

    outcomes, seconds = [], 0.0
    for job in jobs:
        ends: list[float] = []
        outcomes.append(run_fold(job, data, lambda epoch, loss: ends.append(time.perf_counter())))
        seconds += ends[-1] - ends[0]
    steps = sum(steps_per_epoch(job) for job in jobs) * (jobs[0].config.epochs - 1)
    return outcomes, round(seconds / steps * 1000, 1)


def stacked(jobs: list, data, compile: bool) -> tuple[list, float, float]:
    """Outcomes, ms per fold-step in the steady state, and the whole call's seconds."""
    from zoo.bench.jobs import run_folds_stacked

    ends: list[float] = []
    first = jobs[0].fold
    started = time.perf_counter()
    outcomes = run_folds_stacked(
        jobs, data, lambda fold, epoch, loss: ends.append(time.perf_counter()) if fold == first else None, compile
    )
    return outcomes, per_step_ms(ends, jobs), round(time.perf_counter() - started, 1)


def agreement(expected: list, got: list) -> dict:
    probs = [abs(a - b) for e, g in zip(expected, got) for re, rg in zip(e.probabilities, g.probabilities)
             for a, b in zip(re, rg)]
    same = sum(p == q for e, g in zip(expected, got) for p, q in zip(e.predictions, g.predictions))
    return {"same_predictions": same, "test_clips": sum(len(e.predictions) for e in expected),
            "max_probability_difference": round(max(probs), 6)}


def machine_load() -> dict:
    """What else was running: load average and the busiest other processes."""
    top = subprocess.run(["ps", "-eo", "pid=,pcpu=,args=", "--sort=-pcpu"], capture_output=True, text=True).stdout
    others = [line.split(None, 1)[1][:120] for line in top.splitlines() if int(line.split()[0]) != os.getpid()]
    others = others[:5]
    return {"load_average": [round(x, 2) for x in os.getloadavg()], "busiest_processes": others}


def markdown(report: dict) -> str:
    c, full = report["comparison"], report["full_recipe"]
    load = f"{report['load_before']['load_average']} before, {report['load_after']['load_average']} after"
    rows = [("fold by fold (`run_fold`)", c["fold_by_fold_ms_per_step"]),
            ("stacked (`run_folds_stacked`)", c["stacked_ms_per_step"])]
    if "compiled_ms_per_step" in c:
        rows.append(("stacked, `torch.compile`", c["compiled_ms_per_step"]))
    lines = [
        "# Stacked folds: STSTNet, official recipe, `megc2019-flow` fixture",
        "",
        f"Written by `experiments/perf/stacked_folds.py` ({report['date']}). {report['cpus']} CPUs, "
        f"torch threads {report['threads']}, {report['dtype']}, torch {report['torch']}; load average "
        f"{load}. Timings are under load unless the load average says otherwise.",
        "",
        f"First {c['folds']} folds, {c['epochs']} epochs, batch {c['batch_size']}:",
        "",
        "| way | ms per fold and step |",
        "|---|---|",
        *[f"| {way} | {ms} |" for way, ms in rows],
        "",
        f"Stacked speed-up {c['speedup']}x. Predictions: {c['agreement']['same_predictions']} of "
        f"{c['agreement']['test_clips']} test clips the same; largest probability difference "
        f"{c['agreement']['max_probability_difference']}.",
        "",
        f"At this rate the full recipe ({full['folds']} folds x {full['epochs']} epochs) would take "
        f"{full['projected_stacked_s']} s stacked and {full['projected_fold_by_fold_s']} s fold by fold "
        "on these threads (projected; target 600 s).",
    ]
    if "measured_s" in full:
        lines += ["", f"Full stacked recipe measured: {full['measured_s']} s."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=4, help="folds compared both ways (68: all)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs compared both ways (at least 2)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--compile", action="store_true", help="also time it stacked under torch.compile")
    parser.add_argument("--full", action="store_true", help="also train the whole recipe stacked")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the step time is taken between epoch ends)")
    torch.set_num_threads(args.threads)
    load_before = machine_load()
    with tempfile.TemporaryDirectory() as tmp:
        data, jobs = fold_jobs(Path(tmp), args.epochs)
        compared = jobs[: args.folds]
        expected, fold_ms = fold_by_fold(compared, data)
        outcomes, stacked_ms, _ = stacked(compared, data, compile=False)
        compiled = stacked(compared, data, compile=True) if args.compile else None
        # the whole recipe runs inside the folder that holds its prepared data
        official_s = stacked(*fold_jobs(Path(tmp), None), compile=False)[2] if args.full else None
    recipe = jobs[0].config
    official_epochs = STSTNET_RECIPE["epochs"]
    fold_steps = sum(steps_per_epoch(job) for job in jobs) * official_epochs
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "dtype": "float32",
        "torch": torch.__version__,
        "platform": platform.platform(),
        "load_before": load_before,
        "comparison": {
            "folds": len(compared), "epochs": args.epochs, "batch_size": recipe.batch_size, "lr": recipe.lr,
            "optimizer": recipe.optimizer,
            "fold_by_fold_ms_per_step": fold_ms, "stacked_ms_per_step": stacked_ms,
            "speedup": round(fold_ms / stacked_ms, 2), "agreement": agreement(expected, outcomes),
        },
        "full_recipe": {
            "folds": len(jobs), "epochs": official_epochs, "fold_steps": fold_steps,
            "projected_stacked_s": round(fold_steps * stacked_ms / 1000),
            "projected_fold_by_fold_s": round(fold_steps * fold_ms / 1000),
        },
    }
    if compiled is not None:
        report["comparison"]["compiled_ms_per_step"] = compiled[1]
        report["comparison"]["compiled_agreement"] = agreement(expected, compiled[0])
    if official_s is not None:
        report["full_recipe"]["measured_s"] = official_s
    report["load_after"] = machine_load()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "stacked_folds.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "stacked_folds.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
