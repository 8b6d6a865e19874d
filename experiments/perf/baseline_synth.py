"""Issue #2 targets: ``zoo bench flow_resnet18`` (full LOSO on synth, its registered budget)
in under 5 minutes on 2 CPU cores, UF1 and UAR >= 0.7, peak memory under 4 GiB; and the
frame-difference baseline above chance but below saturation (UF1 < 0.95).

Runs each command as a user would, in a fresh process with a cold preprocessing cache,
and writes ``experiments/perf/results/baseline_synth.json``; the result files go to
``leaderboard/results/`` (the published leaderboard rows).

    python -m experiments.perf.baseline_synth
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
TARGETS = {
    "flow_resnet18": {"max_seconds": 300, "min_uf1": 0.7, "min_uar": 0.7, "max_rss_gib": 4},
    "diff_resnet18": {"min_uf1": 0.2, "max_uf1": 0.95},
}


PUBLISHED = HERE.parent.parent / "leaderboard" / "results"


def bench(model: str, workdir: Path) -> dict:
    env = {**os.environ, "ZOO_CACHE": str(workdir / "cache")}
    out = workdir / "results"
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from zoo.cli import main; main()",
            "bench",
            model,
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    # the largest child so far: flow_resnet18 runs first, so its figure is its own
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    (path,) = out.glob(f"{model}__*.json")
    result = json.loads(path.read_text())
    PUBLISHED.mkdir(parents=True, exist_ok=True)
    (PUBLISHED / path.name).write_text(path.read_text())
    return {
        "seconds": round(seconds, 1),
        "peak_rss_gib": round(peak_kib / 2**20, 2),
        "uf1": round(result["metrics"]["uf1"], 4),
        "uar": round(result["metrics"]["uar"], 4),
        "accuracy": round(result["metrics"]["accuracy"], 4),
        "folds": result["protocol"]["num_folds"],
        "hyperparameters": result["hyperparameters"],
    }


def main() -> None:
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, "runs": {}}
    for model, target in TARGETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            run = bench(model, Path(tmp))
        run["targets"] = target
        run["met"] = all(
            [
                run["seconds"] <= target.get("max_seconds", float("inf")),
                run["uf1"] >= target.get("min_uf1", 0),
                run["uar"] >= target.get("min_uar", 0),
                run["uf1"] <= target.get("max_uf1", 1),
                run["peak_rss_gib"] <= target.get("max_rss_gib", 1e9),
            ]
        )
        report["runs"][model] = run
        print(model, run)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "baseline_synth.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
