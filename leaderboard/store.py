"""The results store: one self-describing JSON file per finished run, plus per-fold partials.

Layout under a results directory::

    <model>__<dataset>__<run_id>.json     finished runs (what the leaderboard reads)
    .partial/<run_id>/<fold>.json         folds of a run still in progress (resume state)
    .partial/<run_id>/<fold>.state.safetensors   mid-fold training state of the fold running
    .partial/<run_id>.lock                held by the process running the run

Files are recognised by their content (``schema`` and ``schema_version``), not their names.
Every write is atomic, so an interrupted run leaves either a complete file or none; partial
folds and fold states carry a checksum, so a file damaged later is re-done, not used.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from benchmarks import integrity
from benchmarks.files import atomic_write_json
from benchmarks.locks import file_lock
from registry.errors import StorageError, ZooError

SCHEMA = "mer-zoo/result"
SCHEMA_VERSION = 1


class ResultFormatError(ZooError):
    """A results file that is not a readable mer-zoo result of a known schema version."""


def result_path(out_dir: Path, result: dict) -> Path:
    name = f"{result['model']['name']}__{result['dataset']['name']}__{result['run_id']}.json"
    return out_dir / name


def write_result(out_dir: Path, result: dict) -> Path:
    result = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **result}
    return atomic_write_json(result_path(out_dir, result), result)


def read_result(path: Path) -> dict:
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or not UTF-8
        raise ResultFormatError(f"{path}: not readable as JSON ({exc}); delete or re-run it") from exc
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise ResultFormatError(f"{path}: not a mer-zoo result (no schema '{SCHEMA}')")
    if result.get("schema_version") != SCHEMA_VERSION:
        raise ResultFormatError(
            f"{path}: result schema version {result.get('schema_version')} is not supported "
            f"(this mer-zoo reads version {SCHEMA_VERSION}); upgrade mer-zoo or re-run"
        )
    check_fields(path, result, RESULT_FIELDS)
    for number, fold in enumerate(result["folds"], start=1):
        check_fields(path, fold, FOLD_FIELDS, f"fold {number}: ")
    return result


@dataclass(frozen=True)
class ListOf:
    item: type


# What the readers of a result (leaderboard tables, ``zoo bench``, ``zoo explain``) rely on.
NUMBER = (int, float)
RESULT_FIELDS = {
    "run_id": str,
    "seed": int,
    "model.name": str,
    "model.options": dict,
    "dataset.name": str,
    "dataset.class_set": str,
    "protocol.name": str,
    "hyperparameters.epochs": int,
    "hyperparameters.input_size": int,
    "hyperparameters.selection": str,
    "metrics.uf1": NUMBER,
    "metrics.uar": NUMBER,
    "metrics.accuracy": NUMBER,
    "metrics.num_samples": int,
    "folds": list,
}
FOLD_FIELDS = {
    "name": str,
    "test_subjects": ListOf(str),
    "samples": list,
    "metrics.uf1": NUMBER,
    "metrics.uar": NUMBER,
    "metrics.accuracy": NUMBER,
}


def check_fields(path: Path, record: object, fields: dict, where: str = "") -> None:
    """Raise :class:`ResultFormatError` naming the first field that is missing or of the wrong
    type (``a.b`` is field ``b`` of ``a``); numbers must be finite, and no field is a bool."""
    for dotted, kind in fields.items():
        value = record
        for key in dotted.split("."):
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if isinstance(kind, ListOf):
            wrong = not isinstance(value, list) or not all(isinstance(v, kind.item) for v in value)
        else:
            wrong = isinstance(value, bool) or not isinstance(value, kind)
        if not wrong and isinstance(value, float):
            wrong = not math.isfinite(value)
        if wrong:
            shown = "missing" if value is _MISSING else f"{type(value).__name__} {str(value)[:40]!r}"
            raise ResultFormatError(f"{path}: {where}field '{dotted}' is {shown}, not what mer-zoo "
                                    "writes; the file was changed or damaged: delete or re-run it")


_MISSING = object()


def iter_results(out_dir: Path) -> Iterator[dict]:
    """Every finished result under ``out_dir``; JSON files of other kinds are skipped."""
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            yield read_result(path)
        except ResultFormatError as exc:
            if "not a mer-zoo result" not in str(exc):
                raise


def partial_dir(out_dir: Path, run_id: str) -> Path:
    return out_dir / ".partial" / run_id


def fold_file(out_dir: Path, run_id: str, fold: str) -> Path:
    return partial_dir(out_dir, run_id) / f"{fold}.json"


def state_file(out_dir: Path, run_id: str, fold: str) -> Path:
    return partial_dir(out_dir, run_id) / f"{fold}.state.safetensors"


def write_fold(out_dir: Path, run_id: str, fold: str, record: dict) -> Path:
    return integrity.write_json(fold_file(out_dir, run_id, fold), record)


def read_fold(out_dir: Path, run_id: str, fold: str) -> dict | None:
    """A finished fold of an interrupted run, or ``None``; a damaged file is reported and
    counts as unfinished."""
    return integrity.read_json(fold_file(out_dir, run_id, fold))


def check_writable(out_dir: Path) -> None:
    """Fail before any work if results cannot be saved (read-only, full, or not a folder)."""
    probe = out_dir / ".partial" / f".write-probe-{os.getpid()}"
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        try:
            probe.write_bytes(bytes(64 * 1024))  # about a result file's size: a full disk fails here
        finally:
            probe.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot write results to {out_dir} ({exc.strerror or exc}); free space, fix "
                           "its permissions or choose another --out") from exc


@contextmanager
def run_lock(out_dir: Path, run_id: str) -> Iterator[None]:
    """Hold run ``run_id`` in ``out_dir`` for this process; another holder is refused (named).

    A killed holder's lock is free (see :mod:`benchmarks.locks`); the temporary files its
    interrupted writes left are removed here.
    """
    with file_lock(partial_dir(out_dir, run_id).with_suffix(".lock"), f"run {run_id} in {out_dir}",
                   wait=False):
        for leftover in [*partial_dir(out_dir, run_id).glob(".*"), *out_dir.glob(f".*__{run_id}.json.*")]:
            leftover.unlink()
        yield


def clear_partials(out_dir: Path, run_id: str) -> None:
    shutil.rmtree(partial_dir(out_dir, run_id), ignore_errors=True)
