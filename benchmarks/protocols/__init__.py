"""Evaluation protocols: functions from per-sample subject ids to train/test folds.

A protocol is registered in ``registry.PROTOCOLS`` as
``protocol(subjects, seed, databases=None) -> list[Fold]``. It sees only subject ids and, on a
composite dataset, each sample's source database (``databases``), never labels or data, so it
cannot leak test information. A protocol registered with ``needs_databases=True`` (leave one
database out) is refused, when the run is planned, on a dataset that is not a composite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from registry import DATASETS, PROTOCOLS
from registry.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    """Indices into the sample list; no subject is on both sides."""

    name: str
    train: tuple[int, ...]
    test: tuple[int, ...]
    test_subjects: tuple[str, ...]


def check_disjoint(folds: list[Fold], subjects: list[str]) -> list[Fold]:
    """Guard every protocol's output: a subject in both train and test is a bug, not a choice."""
    for fold in folds:
        overlap = {subjects[i] for i in fold.train} & {subjects[i] for i in fold.test}
        if overlap:
            raise AssertionError(f"fold {fold.name}: subjects {sorted(overlap)} in train and test")
    return folds


def databases_of(dataset: str, keys: Sequence[str]) -> list[str] | None:
    """Each sample's source database on a composite dataset (its registered ``part_of``), else ``None``."""
    part_of = DATASETS.get(dataset).meta.get("part_of")
    return [part_of(key) for key in keys] if part_of else None


def check_protocol(protocol: str, dataset: str) -> None:
    """Refuse, before anything runs, a protocol the dataset cannot give folds for."""
    if PROTOCOLS.get(protocol).meta.get("needs_databases") and not DATASETS.get(dataset).meta.get("part_of"):
        composites = ", ".join(n for n in DATASETS.names() if DATASETS.get(n).meta.get("part_of"))
        raise ConfigError(
            f"--protocol {protocol} leaves one source database out, but {dataset} is a single database; "
            f"use it on a composite ({composites}) or use --protocol loso"
        )


def make_folds(protocol: str, dataset: str, keys: Sequence[str], subjects: Sequence[str], seed: int) -> list[Fold]:
    """The folds of ``protocol`` over a run's samples (clip ``keys`` and their ``subjects``)."""
    return PROTOCOLS.get(protocol).obj(list(subjects), seed, databases=databases_of(dataset, keys))
