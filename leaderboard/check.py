"""Checked runs: every figure the leaderboard shows is recomputed from the stored predictions.

A result file is read (schema and version), its fields are checked for the types the
leaderboard relies on, its run id is recomputed from its identity fields, every stored
metric (pooled, per fold, per part) is recomputed with :mod:`benchmarks.metrics`, its stored
confidence intervals (seeded) with :mod:`benchmarks.significance`, and each
fold's test subjects are checked against its recorded training subjects. A file that fails
any of this is not shown; ``zoo leaderboard --check`` lists every failure by file and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from benchmarks.metrics import part_metrics, summarize
from benchmarks.significance import run_intervals
from leaderboard.store import ResultFormatError, result_run_id, scan_results
from registry import DATASETS
from registry.errors import ConfigError, ZooError

NUMBER = (int, float)
# (dotted field, accepted types, required) of what the leaderboard reads
RESULT_FIELDS = (
    ("run_id", str, True),
    ("created", str, True),
    ("seed", int, True),
    ("model", dict, True),
    ("model.name", str, True),
    ("model.options", dict, True),
    ("model.num_parameters", int, False),
    ("dataset", dict, True),
    ("dataset.name", str, True),
    ("dataset.class_set", str, True),
    ("dataset.classes", list, True),
    ("dataset.fingerprint", str, True),
    ("protocol", dict, True),
    ("protocol.name", str, True),
    ("hyperparameters", dict, True),
    ("pretraining", (dict, type(None)), False),
    ("pretraining.sha256", str, False),
    ("pretraining.load", dict, False),
    ("pretraining.name", str, False),
    ("metrics", dict, True),
    ("part_metrics", (dict, type(None)), False),
    ("intervals", dict, False),  # results written before mer-zoo recorded them have none
    ("folds", list, True),
)
FOLD_FIELDS = (
    ("name", str, True),
    ("test_subjects", list, True),
    ("train_subjects", list, False),
    ("num_train", int, True),
    ("samples", list, True),
    ("metrics", dict, True),
    ("seconds", NUMBER, False),
)
SAMPLE_FIELDS = (("clip", str, True), ("label", int, True), ("prediction", int, True))
FOLD_METRICS = ("accuracy", "uf1", "uar")


class CheckFailed(ZooError):
    """Result files whose stored figures or identity their own content does not support."""


@dataclass(frozen=True)
class Finding:
    """One problem (or, as a note, one thing that could not be checked) of one result file."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Run:
    """A result that passed every check, with its metrics as recomputed from its predictions."""

    path: Path
    result: dict
    metrics: dict
    parts: dict[str, dict]
    subjects_recorded: bool


@dataclass
class Loaded:
    """What a set of results directories holds: the runs to show and the files not shown."""

    runs: list[Run] = field(default_factory=list)
    failures: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    files: int = 0


def lookup(record: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        record = record[key]
    return record


def type_problems(
    record: dict, spec: Iterable[tuple[str, Any, bool]], prefix: str
) -> Iterator[tuple[str, str]]:
    """Fields missing or of the wrong type (``bool`` is not accepted as a number)."""
    for dotted, types, required in spec:
        try:
            value = lookup(record, dotted)
        except (KeyError, TypeError):
            parent = dotted.rpartition(".")[0]
            present = not parent or isinstance(_get(record, parent), dict)
            if required and present:
                yield f"{prefix}{dotted}", "missing"
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            yield f"{prefix}{dotted}", f"{type(value).__name__} {_short(value)} is not a {_names(types)}"


def _get(record: dict, dotted: str) -> Any:
    try:
        return lookup(record, dotted)
    except (KeyError, TypeError):
        return None


def _tuple(types: Any) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _names(types: Any) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in _tuple(types))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_problems(result: dict) -> list[tuple[str, str]]:
    problems = list(type_problems(result, RESULT_FIELDS, ""))
    for i, fold in enumerate(result.get("folds") if isinstance(result.get("folds"), list) else []):
        if not isinstance(fold, dict):
            problems.append((f"folds[{i}]", "not an object"))
            continue
        problems += type_problems(fold, FOLD_FIELDS, f"folds[{i}].")
        trained = fold.get("train_subjects", [])  # optional: older results do not record it
        if not isinstance(trained, list) or not all(isinstance(s, str) for s in trained):
            problems.append((f"folds[{i}].train_subjects", "not a list of subject names"))
        for j, sample in enumerate(fold.get("samples") if isinstance(fold.get("samples"), list) else []):
            if not isinstance(sample, dict):
                problems.append((f"folds[{i}].samples[{j}]", "not an object"))
                continue
            problems += type_problems(sample, SAMPLE_FIELDS, f"folds[{i}].samples[{j}].")
    return problems


def differences(stored: Any, computed: Any, where: str) -> Iterator[tuple[str, str]]:
    """Where ``stored`` differs from ``computed`` (floats to 1e-9), field by field."""
    if isinstance(computed, dict):
        if not isinstance(stored, dict):
            yield where, f"stored {_short(stored)}, recomputed from the predictions an object"
            return
        for key in sorted(computed.keys() | stored.keys(), key=str):
            if key not in stored:
                yield f"{where}.{key}", "missing; the predictions give " + _short(computed[key])
            elif key not in computed:
                yield f"{where}.{key}", "stored but not a figure the predictions give"
            else:
                yield from differences(stored[key], computed[key], f"{where}.{key}")
    elif isinstance(computed, list):
        if not isinstance(stored, list) or len(stored) != len(computed):
            yield where, f"stored {_short(stored)}, recomputed from the predictions {_short(computed)}"
            return
        for i, (s, c) in enumerate(zip(stored, computed)):
            yield from differences(s, c, f"{where}[{i}]")
    elif not _same(stored, computed):
        yield where, f"stored {stored!r}, recomputed from the predictions {computed!r}"


def _same(stored: Any, computed: Any) -> bool:
    if isinstance(computed, float):
        if not isinstance(stored, NUMBER) or isinstance(stored, bool):
            return False
        if math.isnan(computed) or math.isnan(stored):
            return math.isnan(computed) and math.isnan(stored)
        return math.isclose(stored, computed, rel_tol=1e-9, abs_tol=1e-12)
    return type(stored) is type(computed) and stored == computed


def registered_part_of(dataset: str) -> Callable[[str], str] | None:
    """The clip -> part function of a registered composite dataset, else ``None``."""
    return DATASETS.get(dataset).meta.get("part_of") if dataset in DATASETS else None


def fold_problems(result: dict) -> Iterator[tuple[str, str]]:
    """Each fold's metrics against its predictions, its test subjects against its training
    subjects, and no clip tested twice."""
    classes = result["dataset"]["classes"]
    tested: dict[str, str] = {}
    for i, fold in enumerate(result["folds"]):
        samples = fold["samples"]
        summary = summarize([s["label"] for s in samples], [s["prediction"] for s in samples], classes)
        yield from differences(fold["metrics"], {k: summary[k] for k in FOLD_METRICS}, f"folds[{i}].metrics")
        leaked = sorted(set(fold["test_subjects"]) & set(fold.get("train_subjects", ())), key=str)
        if leaked:
            subjects = ", ".join(map(str, leaked))
            yield (
                f"folds[{i}].train_subjects",
                f"test subject(s) {subjects} of fold {fold['name']} also trained on",
            )
        for sample in samples:
            if sample["clip"] in tested:
                yield (
                    f"folds[{i}].samples",
                    f"clip {sample['clip']} is tested in fold {tested[sample['clip']]} too",
                )
            tested.setdefault(sample["clip"], fold["name"])


def check_result(path: Path, result: dict) -> tuple[list[Finding], Run | None]:
    """Every problem of a read result, and the checked run when there is none; a run whose
    folds record no training subjects passes with ``subjects_recorded`` false. Content the
    typed checks let through but the recomputation cannot use (a list where a clip name
    belongs, say) is a finding too, never a crash."""
    try:
        return _check_result(path, result)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return [Finding(path, "folds", f"cannot be recomputed ({type(exc).__name__}: {exc}); not what "
                        "mer-zoo writes: delete or re-run it")], None


def _check_result(path: Path, result: dict) -> tuple[list[Finding], Run | None]:
    found = schema_problems(result)
    if found:
        return [Finding(path, where, message) for where, message in found], None
    expected = result_run_id(result)
    if expected != result["run_id"]:
        found.append(
            ("run_id", f"{result['run_id']!r} is not the id of the run its fields describe ({expected!r})")
        )
    classes = result["dataset"]["classes"]
    samples = [s for fold in result["folds"] for s in fold["samples"]]
    try:
        if not samples:
            raise ValueError("no predictions stored")
        metrics = summarize([s["label"] for s in samples], [s["prediction"] for s in samples], classes)
    except ValueError as exc:
        found.append(("folds", f"predictions do not fit the {len(classes)} classes: {exc}"))
        return [Finding(path, where, message) for where, message in found], None
    found += differences(result["metrics"], metrics, "metrics")
    found += fold_problems(result)
    part_of = registered_part_of(result["dataset"]["name"])
    parts = part_metrics(samples, part_of, classes)
    if result.get("part_metrics") is not None and part_of is None:
        name = result["dataset"]["name"]
        found.append(
            ("part_metrics", f"{name!r} is not a registered composite: its parts cannot be recomputed")
        )
    elif result.get("part_metrics") is not None or parts is not None:
        found += differences(result.get("part_metrics"), parts, "part_metrics")
    if "intervals" in result and not found:  # seeded: recomputed, they are the same numbers
        found += differences(result["intervals"], run_intervals(samples, classes, part_of), "intervals")
    if found:
        return [Finding(path, where, message) for where, message in found], None
    recorded = all("train_subjects" in fold for fold in result["folds"])
    return [], Run(path, result, metrics, parts or {}, recorded)


UNRECORDED = "not recorded (written before mer-zoo recorded them): subject separation unchecked"


def load_runs(dirs: Iterable[Path]) -> Loaded:
    """Read and check every result file of ``dirs``; the same run found twice is shown once."""
    loaded = Loaded()
    seen: dict[str, Path] = {}
    for folder in map(Path, dirs):
        if not folder.is_dir():
            raise ConfigError(f"results directory {folder} does not exist; pass --results DIR")
        for path, result in scan_results(folder):
            loaded.files += 1
            if isinstance(result, ResultFormatError):
                loaded.failures.append(Finding(path, result.field, result.problem))
                continue
            problems, run = check_result(path, result)
            loaded.failures += problems
            if run is None:
                continue
            if run.result["run_id"] in seen:
                loaded.notes.append(
                    Finding(path, "run_id", f"the same run as {seen[run.result['run_id']]}; shown once")
                )
                continue
            seen[run.result["run_id"]] = path
            if not run.subjects_recorded:
                loaded.notes.append(Finding(path, "folds.train_subjects", UNRECORDED))
            loaded.runs.append(run)
    return loaded
