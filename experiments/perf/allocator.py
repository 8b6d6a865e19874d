"""Issue #24's allocator check: glibc keeping freed memory (``zoo.engine.allocator``, the
default) against glibc's own settings (``ZOO_ALLOCATOR=system``), before and after in one run.

- training steps of STSTNet (batch 256), OFF-ApexNet (batch 64) and MMNet (batch 32, 112 px),
  one thread, each setting in a fresh process: ms per step and minor page faults per step;
- ``zoo bench flow_resnet18`` full LOSO on synth (its budget), each setting once, as a user
  types it: wall seconds and UF1 (the same, since the setting changes no number).

Results: ``experiments/perf/results/allocator.{json,md}``.

    python -m experiments.perf.allocator [--note "what else ran"]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from experiments.perf._evidence import SUMMARY
from zoo.engine.trainer import cpu_description

STEPS = (("ststnet", 256, 28, 30), ("off-apexnet", 64, 28, 60), ("mmnet", 32, 112, 4))  # model, batch, side, steps
SETTINGS = ("glibc-keep-freed", "system")
OUT = SUMMARY / "allocator"
ZOO = str(Path(sys.executable).parent / "zoo")
STEP_PROGRAM = """
import json, resource, sys, time
import torch, torch.nn.functional as F
from zoo.engine.allocator import keep_freed_memory
from zoo.models import create_model
from benchmarks.records import PREPARED_CHANNELS
torch.set_num_threads(1)
setting = keep_freed_memory()
name, batch, side, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model = create_model(name, 3).train()
inputs = {k: torch.rand(batch, PREPARED_CHANNELS[k], side, side) for k in model.inputs.keys}
labels = torch.randint(0, 3, (batch,))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
def step():
    loss = F.cross_entropy(model(**inputs), labels); optimizer.zero_grad(); loss.backward(); optimizer.step()
step(); step()
before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(steps):
    step()
seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"setting": setting, "ms_per_step": 1000 * seconds / steps,
                  "minor_faults_per_step": (after.ru_minflt - before.ru_minflt) / steps,
                  "system_ms_per_step": 1000 * (after.ru_stime - before.ru_stime) / steps}))
"""


def environment(setting: str, cache: Path) -> dict[str, str]:
    env = {**os.environ, "ZOO_CACHE": str(cache), "COLUMNS": "120"}
    env.pop("ZOO_ALLOCATOR", None)
    return {**env, "ZOO_ALLOCATOR": "system"} if setting == "system" else env


def step_costs(cache: Path) -> list[dict]:
    rows = []
    for name, batch, side, steps in STEPS:
        for setting in SETTINGS:
            done = subprocess.run([sys.executable, "-c", STEP_PROGRAM, name, str(batch), str(side), str(steps)],
                                  env=environment(setting, cache), capture_output=True, text=True, check=True)
            rows.append({"model": name, "batch": batch, "side": side, **json.loads(done.stdout.strip().splitlines()[-1])})
            print(rows[-1], flush=True)
    return rows


def loso(cache: Path, scratch: Path) -> list[dict]:
    rows = []
    subprocess.run([ZOO, "bench", "flow_resnet18", "--protocol", "holdout", "--epochs", "1", "--out",
                    str(scratch / "warm")], env=environment("system", cache), check=True, capture_output=True)
    for setting in SETTINGS:  # on the warm preprocessing cache
        out = scratch / setting
        started = time.perf_counter()
        subprocess.run([ZOO, "bench", "flow_resnet18", "--out", str(out)], env=environment(setting, cache),
                       check=True, capture_output=True)
        seconds = time.perf_counter() - started
        (result,) = out.glob("*.json")
        document = json.loads(result.read_text())
        rows.append({"setting": document["environment"]["allocator"], "wall_s": round(seconds, 1),
                     "uf1": document["metrics"]["uf1"], "executor": document["environment"]["executor"]})
        print(rows[-1], flush=True)
    return rows


def markdown(report: dict) -> str:
    lines = ["# glibc keeping freed memory vs glibc's defaults", "",
             f"Written by `python -m experiments.perf.allocator` ({report['date']}); CPU {report['cpu']}; "
             f"also running: {report['note']}.", "",
             "| model | batch | allocator | ms per step | minor faults per step | system ms per step |",
             "|---|---|---|---|---|---|"]
    for r in report["steps"]:
        lines.append(f"| {r['model']} | {r['batch']} ({r['side']} px) | {r['setting']} | {r['ms_per_step']:.1f} | "
                     f"{r['minor_faults_per_step']:.0f} | {r['system_ms_per_step']:.1f} |")
    lines += ["", "`zoo bench flow_resnet18` (synth LOSO, its budget, default executor):", "",
              "| allocator | wall s | UF1 |", "|---|---|---|"]
    lines += [f"| {r['setting']} | {r['wall_s']:.0f} | {r['uf1']:.3f} |" for r in report["loso"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--note", default="nothing else")
    args = parser.parse_args()
    cpu = cpu_description()
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(os.environ.get("ZOO_CACHE") or Path(scratch) / "cache")
        report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "note": args.note,
                  "cpu": f"{cpu['model']} ({', '.join(cpu['flags'])})", "steps": step_costs(cache),
                  "loso": loso(cache, Path(scratch))}
    OUT.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    OUT.with_suffix(".md").write_text(markdown(report))


if __name__ == "__main__":
    main()
