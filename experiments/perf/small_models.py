"""Issue #24's evidence: the small baselines in ``zoo bench`` against the shortest correct loop
of each recipe (``experiments.perf.shortest_loop``), side by side in one run, on the
composite given by ``--data-root`` (STSTNet's released MEGC 2019 flow images, or their fixture)
and on ``synth``.

Each configuration: ``zoo bench`` exactly as a user types it (fresh process, default executor,
every core, a scratch results folder) and, right after it, the loop (fresh process, 2 workers
of one thread), both on the same warm preprocessing cache; wall time of each process and its
pooled UF1. ``--epochs`` shortens every recipe alike (the issue's 60-epoch check); rows say
which. Results: ``experiments/perf/results/small_models.{json,md}`` (rows of earlier calls are
kept, each with its CPU, load and what else was running).

    python -m experiments.perf.small_models --data-root DIR [--epochs 60] [--models ststnet] [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from experiments.perf._evidence import SUMMARY
from experiments.perf.speed import ROOT, child_env, run_child
from zoo.engine.trainer import cpu_description

# (model, --opt values, datasets): each small baseline where it reads the inputs
CONFIGURATIONS = (
    ("ststnet", {}, ("megc2019-flow", "synth")),
    ("off-apexnet", {}, ("megc2019-flow", "synth")),
    ("dual-inception", {}, ("megc2019-flow", "synth")),
    ("rcn", {}, ("synth",)),  # reads flow magnitude, which megc2019-flow does not provide
    ("timm-flow", {"backbone": "resnet18"}, ("megc2019-flow",)),  # 28 px there
)
OUT = SUMMARY / "small_models"
ZOO = str(Path(sys.executable).parent / "zoo")  # the command a user types, of this environment


def zoo_bench(model: str, options: dict, dataset: str, root: str | None, epochs: int | None, cache: Path,
              tmp: Path) -> dict:
    out = tmp / f"zoo-{model}-{dataset}"
    command = [ZOO, "bench", model, "--dataset", dataset, "--out", str(out)]
    command += ["--data-root", root] if root else []
    command += ["--epochs", str(epochs)] if epochs else []
    for key, value in options.items():
        command += ["--opt", f"{key}={value}"]
    env = {k: v for k, v in child_env(os.cpu_count() or 1, cache).items() if not k.endswith("NUM_THREADS")}
    seconds, rss = run_child(command, env, tmp / "logs" / f"{out.name}.log")
    (result,) = out.glob("*.json")
    document = json.loads(result.read_text())
    return {"wall_s": round(seconds, 1), "peak_rss_gib": round(rss, 2), "uf1": document["metrics"]["uf1"],
            "threads": document["environment"]["torch_threads"], "executor": document["environment"]["executor"]["name"]}


def shortest_loop(model: str, options: dict, dataset: str, root: str | None, epochs: int | None, cache: Path,
                  tmp: Path) -> dict:
    command = [sys.executable, "-m", "experiments.perf.shortest_loop", model, "--dataset", dataset]
    command += ["--data-root", root] if root else []
    command += ["--epochs", str(epochs)] if epochs else []
    for key, value in options.items():
        command += ["--opt", f"{key}={value}"]
    log = tmp / "logs" / f"loop-{model}-{dataset}.log"
    seconds, rss = run_child(command, child_env(1, cache), log)
    report = json.loads(log.read_text().strip().splitlines()[-1])
    return {"wall_s": round(seconds, 1), "peak_rss_gib": round(rss, 2), "uf1": report["uf1"], "workers": report["workers"]}


def markdown(rows: list[dict]) -> str:
    lines = [
        "# Small baselines: `zoo bench` against the shortest correct loop",
        "",
        f"Written by `python -m experiments.perf.small_models` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC). "
        "Wall time of each process, warm preprocessing cache, full LOSO; the loop: 2 processes of one thread, "
        "the release's network, unshuffled batches, no per-epoch test pass. Speed-up = loop / zoo bench.",
        "",
        "| model | dataset | epochs | zoo bench s | threads | loop s | speed-up | UF1 zoo / loop | CPU | also running |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['dataset']} | {r['epochs']} | {r['zoo']['wall_s']:.0f} | {r['zoo']['threads']} | "
            f"{r['loop']['wall_s']:.0f} | {r['loop']['wall_s'] / r['zoo']['wall_s']:.2f}x | "
            f"{r['zoo']['uf1']:.3f} / {r['loop']['uf1']:.3f} | {r['cpu']} | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", required=True, help="STSTNet's released MEGC 2019 flow images (or the fixture)")
    parser.add_argument("--epochs", type=int, help="shorten every recipe to this many epochs")
    parser.add_argument("--models", help="comma-separated (default: all)")
    parser.add_argument("--datasets", default="megc2019-flow,synth")
    parser.add_argument("--note", default="nothing else")
    args = parser.parse_args()
    models = set(args.models.split(",")) if args.models else None
    datasets = args.datasets.split(",")
    summary = OUT.with_suffix(".json")
    rows = json.loads(summary.read_text()) if summary.is_file() else []
    cpu = cpu_description()
    cpu_text = f"{cpu['model']} ({', '.join(cpu['flags'])})"
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        cache = Path(os.environ.get("ZOO_CACHE") or tmp / "cache")
        for model, options, where in CONFIGURATIONS:
            for dataset in (d for d in where if d in datasets):
                if models and model not in models:
                    continue
                root = args.data_root if dataset == "megc2019-flow" else None
                # warm the cache outside the timing (a one-epoch holdout run prepares it)
                subprocess.run([ZOO, "bench", model, "--dataset", dataset,
                                "--protocol", "holdout", "--epochs", "1", "--out", str(tmp / "warm"),
                                *(["--data-root", root] if root else []),
                                *[f"--opt={k}={v}" for k, v in options.items()]],
                               check=True, capture_output=True, env=child_env(os.cpu_count() or 1, cache))
                load = os.getloadavg()
                zoo = zoo_bench(model, options, dataset, root, args.epochs, cache, tmp)
                loop = shortest_loop(model, options, dataset, root, args.epochs, cache, tmp)
                row = {"model": model, "options": options, "dataset": dataset, "epochs": args.epochs or "recipe",
                       "zoo": zoo, "loop": loop, "cpu": cpu_text, "load_before": [round(x, 2) for x in load],
                       "note": args.note, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "python": platform.python_version()}
                rows = [r for r in rows if (r["model"], r["dataset"], r["epochs"]) != (model, dataset, row["epochs"])]
                rows.append(row)
                summary.write_text(json.dumps(rows, indent=1) + "\n")
                OUT.with_suffix(".md").write_text(markdown(rows))
                print(f"{model} {dataset}: zoo {zoo['wall_s']:.0f} s, loop {loop['wall_s']:.0f} s "
                      f"({loop['wall_s'] / zoo['wall_s']:.2f}x)", flush=True)
                time.sleep(1)


if __name__ == "__main__":
    main()
