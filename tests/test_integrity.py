"""Integrity: damaged caches and partial folds are reported and rebuilt, never used; a results
folder that cannot be written fails before training; a full disk mid-run leaves no
half-written file and loses no finished fold.

We run as root, so a read-only folder cannot be made with chmod: the write probe is tested
with a results path under a file, and with an injected failing write (ENOSPC).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch
from fixtures.mer_layouts import write_casme2

import benchmarks.preprocess as pre
from benchmarks.datasets.casme2 import read_casme2
from benchmarks.files import atomic_write
from benchmarks.preprocess import PreprocessConfig, prepare
from zoo.bench import BenchSpec, Reporter, plan_benchmark, run_benchmark
from leaderboard import store
from leaderboard.store import read_result
from registry.errors import StorageError

CONFIG = PreprocessConfig(size=16, flow_size=24)


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) // 2:]
    else:  # one flipped byte in the tensor data, which is at the end of a safetensors file
        data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_damaged_cache_is_reported_and_rebuilt(tmp_path, monkeypatch, caplog, how):
    computed = []
    original = pre.prepare_clip
    monkeypatch.setattr(pre, "prepare_clip",
                        lambda clip, config: computed.append(clip) or original(clip, config))
    index = read_casme2(write_casme2(tmp_path / "data", [(1, "EP01_01", 1, 2, 3, "happiness"),
                                                        (2, "EP02_01", 1, 3, 5, "others")], "cropped"))
    first = prepare(index, CONFIG, tmp_path / "cache", workers=1)
    damage(first.path, how)
    again = prepare(index, CONFIG, tmp_path / "cache", workers=1)
    assert len(computed) == 4  # computed twice
    assert all(torch.equal(again.tensors[k], first.tensors[k]) for k in first.tensors)
    why = "unreadable" if how == "truncated" else "checksum mismatch"
    assert caplog.text.count(f"warning: {first.path}: {why}") == 1
    prepare(index, CONFIG, tmp_path / "cache", workers=1)
    assert len(computed) == 4  # the rebuilt cache is used


def test_changed_or_unsealed_partial_fold_is_reported_and_redone(tmp_path, caplog):
    record = {"name": "sub01", "samples": [{"clip": "sub01/EP01", "prediction": 2}]}
    path = store.write_fold(tmp_path, "run", "sub01", record)
    assert store.read_fold(tmp_path, "run", "sub01") == record
    path.write_text(path.read_text().replace('"prediction": 2', '"prediction": 3'))
    assert store.read_fold(tmp_path, "run", "sub01") is None
    assert f"warning: {path}: checksum mismatch" in caplog.text
    path.write_text(json.dumps(record))  # a fold written without a checksum
    assert store.read_fold(tmp_path, "run", "sub01") is None
    assert f"warning: {path}: no checksum" in caplog.text
    assert store.read_fold(tmp_path, "run", "sub02") is None  # not there: no warning
    assert caplog.text.count("warning") == 2


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_atomic_write_on_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")

    def half_then_full(tmp: Path) -> None:
        tmp.write_text("half of the new")
        no_space()

    with pytest.raises(StorageError, match=f"cannot write {path}: No space left on device; free space"):
        atomic_write(path, half_then_full)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


FAST = {"epochs": 1, "input_size": 16, "batch_size": 16}


def bench(out: Path) -> BenchSpec:
    return BenchSpec(model="flow_resnet18", protocol="holdout", device="cpu", out=out, overrides=FAST)


class Folds(Reporter):
    def __init__(self):
        self.started, self.reused = [], []

    def fold_started(self, fold, number, total, epochs):
        self.started.append(fold.name)

    def fold_finished(self, fold, record, reused):
        if reused:
            self.reused.append(fold.name)


@pytest.mark.parametrize("failing", ["a file in the way", "no space"])
def test_unwritable_results_folder_fails_before_training(tmp_path, monkeypatch, failing):
    if failing == "no space":
        out = tmp_path / "results"
        real = Path.write_bytes
        monkeypatch.setattr(Path, "write_bytes", lambda self, data: no_space() if out in self.parents
                            else real(self, data))
        reason = "No space left on device"
    else:
        (tmp_path / "file").write_text("")
        out, reason = tmp_path / "file" / "results", "Not a directory"
    folds = Folds()
    with pytest.raises(StorageError, match=f"cannot write results to {out} \\({reason}\\); free space"):
        run_benchmark(plan_benchmark(bench(out)), folds)
    assert folds.started == [] and not list(tmp_path.rglob("*.json"))


def test_full_disk_at_the_result_write_keeps_the_fold_and_leaves_no_temporary(tmp_path, monkeypatch):
    plan = plan_benchmark(bench(tmp_path))
    real = Path.write_text

    def full_for_results(self, text, *args, **kwargs):
        if self.name.startswith(".flow_resnet18__synth__"):
            real(self, text[: len(text) // 2])
            no_space()
        return real(self, text, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", full_for_results)
        with pytest.raises(StorageError, match="No space left on device"):
            run_benchmark(plan)
    (fold,) = tmp_path.glob(".partial/*/holdout.json")  # the finished fold is kept...
    assert [p.name for p in tmp_path.iterdir()] == [".partial"]  # ...and nothing half-written
    assert [p.name for p in fold.parent.iterdir()] == ["holdout.json"]
    folds = Folds()
    result = read_result(run_benchmark(plan, folds))
    assert folds.reused == ["holdout"] and result["folds"][0]["name"] == "holdout"
