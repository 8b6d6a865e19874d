"""The results store: one self-describing JSON file per finished run, plus per-fold partials.

Layout under a results directory::

    <model>__<dataset>__<run_id>.json     finished runs (what the leaderboard reads)
    <model>__<dataset>__<run_id>.weights/<fold>.safetensors
                                          each fold's final weights (zoo bench --save-weights)
    .partial/<run_id>/<fold>.json         folds of a run still in progress (resume state)
    .partial/<run_id>/<fold>.state.safetensors   mid-fold training state of the fold running
    .partial/<run_id>/<fold>.traceback.txt   why the fold failed (a re-run retries it)
    .partial/<run_id>.lock                held by the process running the run

Files are recognised by their content (``schema`` and ``schema_version``), not their names.
Every write is atomic, so an interrupted run leaves either a complete file or none.

A run's id is a hash of what identifies it (:func:`run_id`); the runner names its result by it
and ``zoo leaderboard --check`` recomputes it from the stored fields, so both use this one
definition without the leaderboard importing the training stack.
Partial folds and fold states carry a checksum, so a file damaged later is re-done, not used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from benchmarks import integrity
from benchmarks.files import atomic_write, atomic_write_json
from benchmarks.locks import file_lock
from registry.errors import StorageError, ZooError

SCHEMA = "mer-zoo/result"
SCHEMA_VERSION = 1


class ResultFormatError(ZooError):
    """A results file that is not a readable mer-zoo result of a known schema version."""

    def __init__(self, path: Path, field: str, problem: str):
        self.path, self.field, self.problem = path, field, problem
        super().__init__(f"{path}: {field}: {problem}")


# Hyper-parameters added after schema version 1 was published: left out of the identity at
# their default value, so the ids of runs made before they existed stay as they were.
LATER_DEFAULTS = {"augment": "flip-rotate-crop", "order": "shuffled", "precision": "fp32"}


def run_id(
    model: str,
    options: dict[str, Any],
    dataset: str,
    fingerprint: str,
    class_set: str,
    protocol: str,
    seed: int,
    hyperparameters: dict[str, Any],
    pretraining: dict | None = None,
    deterministic: bool = False,
) -> str:
    """The id of a run: 12 hex digits of the hash of everything that changes its numbers."""
    hyperparameters = {k: v for k, v in hyperparameters.items() if LATER_DEFAULTS.get(k, object()) != v}
    identity = {
        "model": model,
        "options": options,
        "dataset": dataset,
        "fingerprint": fingerprint,
        "class_set": class_set,
        "protocol": protocol,
        "seed": seed,
        "hyperparameters": hyperparameters,
    }
    if pretraining:  # only then, so run ids of runs without pre-training stay as they were
        identity["pretraining"] = {k: pretraining[k] for k in ("sha256", "load")}
    if deterministic:  # likewise; and folds of the two kinds are never mixed
        identity["deterministic"] = True
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def result_run_id(result: dict, seed: int | None = None) -> str:
    """:func:`run_id` from a result's own fields; with ``seed``, that of the same run at another
    seed (so ``result_run_id(r, 0)`` names a configuration whatever its seed)."""
    return run_id(
        result["model"]["name"],
        result["model"]["options"],
        result["dataset"]["name"],
        result["dataset"]["fingerprint"],
        result["dataset"]["class_set"],
        result["protocol"]["name"],
        result["seed"] if seed is None else seed,
        result["hyperparameters"],
        result.get("pretraining"),
        bool((result.get("training") or {}).get("deterministic", False)),
    )


def result_file(out_dir: Path, model: str, dataset: str, run_id: str) -> Path:
    return out_dir / f"{model}__{dataset}__{run_id}.json"


def result_path(out_dir: Path, result: dict) -> Path:
    return result_file(out_dir, result["model"]["name"], result["dataset"]["name"], result["run_id"])


def weights_dir(result: Path) -> Path:
    """The folder of a run's saved fold weights, beside its result file. It fills fold by fold
    while the run goes, so an interrupted run keeps the folds it finished."""
    return result.with_suffix(".weights")


def write_result(out_dir: Path, result: dict) -> Path:
    result = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **result}
    return atomic_write_json(result_path(out_dir, result), result)


class NotAResult(ResultFormatError):
    """A JSON file of another kind (notes, configs) that happens to sit among the results."""


def read_result(path: Path) -> dict:
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or not UTF-8
        raise ResultFormatError(path, "file", f"not readable as JSON ({exc}); delete or re-run it") from exc
    if not isinstance(result, dict) or result.get("schema") != SCHEMA:
        raise NotAResult(path, "schema", f"not a mer-zoo result (no schema '{SCHEMA}')")
    version = result.get("schema_version")
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION
        raise ResultFormatError(
            path,
            "schema_version",
            f"{version!r} is from a newer mer-zoo (this one reads {SCHEMA_VERSION}); upgrade mer-zoo"
            if newer
            else f"{version!r} is not a result schema version mer-zoo wrote (this one reads {SCHEMA_VERSION})",
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
            shown = "missing" if value is _MISSING else f"stored {str(value)[:40]!r}"
            raise ResultFormatError(path, f"{where}{dotted}", f"{shown}, not what mer-zoo writes; the "
                                    "file was changed or damaged: delete or re-run it")


_MISSING = object()


def scan_results(out_dir: Path) -> Iterator[tuple[Path, dict | ResultFormatError]]:
    """Every result file under ``out_dir`` with its content, or why it cannot be read; JSON
    files of other kinds are passed over."""
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            yield path, read_result(path)
        except NotAResult:
            continue
        except ResultFormatError as exc:
            yield path, exc


def iter_results(out_dir: Path) -> Iterator[dict]:
    """Every finished result under ``out_dir``; a damaged or unsupported one is an error."""
    for _, result in scan_results(out_dir):
        if isinstance(result, ResultFormatError):
            raise result
        yield result


def partial_dir(out_dir: Path, run_id: str) -> Path:
    return out_dir / ".partial" / run_id


def fold_file(out_dir: Path, run_id: str, fold: str) -> Path:
    return partial_dir(out_dir, run_id) / f"{fold}.json"


def state_file(out_dir: Path, run_id: str, fold: str) -> Path:
    return partial_dir(out_dir, run_id) / f"{fold}.state.safetensors"


def traceback_file(out_dir: Path, run_id: str, fold: str) -> Path:
    return partial_dir(out_dir, run_id) / f"{fold}.traceback.txt"


def write_traceback(out_dir: Path, run_id: str, fold: str, text: str) -> Path:
    """Keep why a fold failed beside the run's finished folds; returns the file."""
    return atomic_write(traceback_file(out_dir, run_id, fold), lambda p: p.write_text(text))


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
