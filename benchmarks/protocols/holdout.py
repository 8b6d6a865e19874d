"""Subject-level hold-out: one quick train/test split for smoke runs, not for reported numbers."""

from __future__ import annotations

import numpy as np

from benchmarks.protocols import Fold, check_disjoint
from benchmarks.records import natural_key
from registry import PROTOCOLS

TEST_FRACTION = 0.25


@PROTOCOLS.register("holdout", defaults={"test_fraction": TEST_FRACTION})
def holdout_folds(subjects: list[str], seed: int = 0, databases: list[str] | None = None) -> list[Fold]:
    """A single fold with a seeded quarter of the subjects (at least one) held out."""
    unique = sorted(set(subjects), key=natural_key)
    if len(unique) < 2:
        raise ValueError("hold-out needs at least two subjects")
    rng = np.random.default_rng(seed)
    n_test = max(1, round(TEST_FRACTION * len(unique)))
    held = set(rng.choice(unique, size=n_test, replace=False).tolist())
    test = tuple(i for i, s in enumerate(subjects) if s in held)
    train = tuple(i for i, s in enumerate(subjects) if s not in held)
    return check_disjoint([Fold("holdout", train, test, tuple(sorted(held, key=natural_key)))], subjects)
