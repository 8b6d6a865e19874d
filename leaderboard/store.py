"""The results store: one self-describing JSON file per finished run, plus per-fold partials.

Layout under a results directory::

    <model>__<dataset>__<run_id>.json     finished runs (what the leaderboard reads)
    <model>__<dataset>__<run_id>.weights/<fold>.safetensors
                                          each fold's final weights (zoo bench --save-weights)
    .partial/<run_id>/<fold>.json         folds of a run still in progress (resume state)

Files are recognised by their content (``schema`` and ``schema_version``), not their names.
Every write is atomic, so an interrupted run leaves either a complete file or none.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

from benchmarks.files import atomic_write_json
from registry.errors import ZooError

SCHEMA = "mer-zoo/result"
SCHEMA_VERSION = 1


class ResultFormatError(ZooError):
    """A results file that is not a readable mer-zoo result of a known schema version."""


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
