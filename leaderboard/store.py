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
import os
import shutil
from contextlib import contextmanager
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
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultFormatError(f"{path}: not readable as JSON ({exc}); delete or re-run it") from exc
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise ResultFormatError(f"{path}: not a mer-zoo result (no schema '{SCHEMA}')")
    if result.get("schema_version") != SCHEMA_VERSION:
        raise ResultFormatError(
            f"{path}: result schema version {result.get('schema_version')} is not supported "
            f"(this mer-zoo reads version {SCHEMA_VERSION}); upgrade mer-zoo or re-run"
        )
    return result


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
