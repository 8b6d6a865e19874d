"""Fault injection: `zoo bench` killed with SIGKILL at seeded random points (while
preprocessing, mid-epoch, half-way through writing a fold and the result), then re-run to
completion, gives the uninterrupted run's per-clip predictions, probabilities and metrics,
and leaves no file behind but the result.

The kill comes from inside the process under test: a small wrapper (FAULT below) patches one
function to SIGKILL its own process at the n-th call, then runs the `zoo` command line.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.files import cache_home
from leaderboard.store import read_result

FAULT = """
import os, signal, sys
point, n = sys.argv[1], int(sys.argv[2])
calls = 0

def nth_call():
    global calls
    calls += 1
    return calls == n

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "preprocessing":  # after the n-th clip is prepared
    import zoo.cli.bench as bench
    shown = bench.RichReporter.preprocessing
    def preprocessing(self, done, total):
        shown(self, done, total)
        if nth_call():
            die()
    bench.RichReporter.preprocessing = preprocessing
elif point == "epoch":  # inside the n-th training batch
    import zoo.engine.trainer as trainer
    augment = trainer.augment
    def augmenting(*args):
        if nth_call():
            die()
        return augment(*args)
    trainer.augment = augmenting
else:  # "fold" or "result": half-way through writing the n-th such file
    import benchmarks.files as files
    atomic_write = files.atomic_write
    def writing(path, write):
        if path.suffix == ".json" and (".partial" in path.parts) == (point == "fold") and nth_call():
            def half(tmp):
                write(tmp)
                tmp.write_bytes(tmp.read_bytes()[: tmp.stat().st_size // 2])
                die()
            return atomic_write(path, half)
        return atomic_write(path, write)
    files.atomic_write = writing
from zoo.cli import main
sys.argv = ["zoo", *sys.argv[3:]]
main()
"""
BENCH = ["bench", "flow_resnet18", "--protocol", "holdout", "--epochs", "3", "--input-size", "16",
         "--device", "cpu", "--checkpoint-every", "1"]
LIMIT_S = 240  # per process; the whole test takes about 2 minutes on 2 idle cores


def zoo(out: Path, cache: Path, *fault: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", FAULT, *fault] if fault else [
        sys.executable, "-c", "from zoo.cli import main; main()"]
    return subprocess.run([*command, *BENCH, "--out", str(out)], capture_output=True, text=True,
                          env={**os.environ, "ZOO_CACHE": str(cache)}, timeout=LIMIT_S)


def finished(out: Path) -> dict:
    """The one result file of ``out``, after checking nothing else is left there."""
    left = [p for p in out.rglob("*") if p.is_file()]
    assert len(left) == 1 and left[0].suffix == ".json", left
    return read_result(left[0])


def per_clip(result: dict) -> list:
    return [(s["clip"], s["prediction"], s["probabilities"]) for f in result["folds"] for s in f["samples"]]


@pytest.mark.slow
def test_runs_killed_at_random_points_finish_as_if_never_killed(tmp_path, synth_index):
    rng = random.Random(2024)
    points = [("preprocessing", rng.randint(20, 140)),  # synth has 153 clips
              ("epoch", rng.randint(5, 12)),  # 4 batches an epoch: in epoch 2 or 3, after a save
              ("fold", 1),  # the hold-out fold's record
              ("result", 1)]
    cache = tmp_path / "cache"  # a cold preprocessing cache (the kill while preprocessing is first)...
    shutil.copytree(synth_index.root, cache / synth_index.root.relative_to(cache_home()))  # ...with synth
    results = {}
    for point, n in points:
        out = tmp_path / point
        killed = zoo(out, cache, point, str(n))
        assert killed.returncode == -signal.SIGKILL, (point, n, killed.stderr[-2000:])
        resumed = zoo(out, cache)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert ("continuing from its saved state" in resumed.stdout) == (point in ("epoch", "fold"))
        results[point] = finished(out)
    reference = zoo(tmp_path / "uninterrupted", cache)
    assert reference.returncode == 0, reference.stderr[-2000:]
    expected = finished(tmp_path / "uninterrupted")
    for point, result in results.items():
        assert per_clip(result) == per_clip(expected), point
        assert result["metrics"] == expected["metrics"], point
    assert [p.suffix for p in (cache / "prepared").iterdir()] == [".safetensors"]  # no lock, no temporary
