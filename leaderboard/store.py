"""The results store: one self-describing JSON file per finished run, plus per-fold partials.

Layout under a results directory::

    <model>__<dataset>__<run_id>.json     finished runs (what the leaderboard reads)
    <model>__<dataset>__<run_id>.weights/<fold>.safetensors
                                          each fold's final weights (zoo bench --save-weights)
    .partial/<run_id>/<fold>.json         folds of a run still in progress (resume state)

Files are recognised by their content (``schema`` and ``schema_version``), not their names.
Every write is atomic, so an interrupted run leaves either a complete file or none.

A run's id is a hash of what identifies it (:func:`run_id`); the runner names its result by it
and ``zoo leaderboard --check`` recomputes it from the stored fields, so both use this one
definition without the leaderboard importing the training stack.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any, Iterator

from benchmarks.files import atomic_write_json
from registry.errors import ZooError

SCHEMA = "mer-zoo/result"
SCHEMA_VERSION = 1


class ResultFormatError(ZooError):
    """A results file that is not a readable mer-zoo result of a known schema version."""

    def __init__(self, path: Path, field: str, problem: str):
        self.path, self.field, self.problem = path, field, problem
        super().__init__(f"{path}: {field}: {problem}")


# Hyper-parameters added after schema version 1 was published: left out of the identity at
# their default value, so the ids of runs made before they existed stay as they were.
LATER_DEFAULTS = {"augment": "flip-rotate-crop"}


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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    return result


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


def write_fold(out_dir: Path, run_id: str, fold: str, record: dict) -> Path:
    return atomic_write_json(fold_file(out_dir, run_id, fold), record)


def read_fold(out_dir: Path, run_id: str, fold: str) -> dict | None:
    """A finished fold of an interrupted run, or ``None``; a damaged file counts as unfinished."""
    path = fold_file(out_dir, run_id, fold)
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def clear_partials(out_dir: Path, run_id: str) -> None:
    shutil.rmtree(partial_dir(out_dir, run_id), ignore_errors=True)
