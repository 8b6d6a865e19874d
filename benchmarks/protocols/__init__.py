"""Evaluation protocols: functions from per-sample subject ids to train/test folds.

A protocol is registered in ``registry.PROTOCOLS`` as ``protocol(subjects, seed) -> list[Fold]``.
It sees only subject ids, never labels or data, so it cannot leak test information.
"""

from __future__ import annotations

from dataclasses import dataclass


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
