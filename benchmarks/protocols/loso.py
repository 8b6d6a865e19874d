"""Leave-one-subject-out: the standard MER protocol (one fold per subject)."""

from __future__ import annotations

from benchmarks.protocols import Fold, check_disjoint
from benchmarks.records import natural_key
from registry import PROTOCOLS


@PROTOCOLS.register(
    "loso",
    citation="Standard MER protocol; MEGC 2019 (See, Yap, Li, Hong, Wang. MEGC 2019 - The "
    "Second Facial Micro-Expressions Grand Challenge. FG 2019).",
)
def loso_folds(subjects: list[str], seed: int = 0, databases: list[str] | None = None) -> list[Fold]:
    """One fold per subject: that subject's clips are the test set, all others train."""
    folds = []
    for subject in sorted(set(subjects), key=natural_key):
        test = tuple(i for i, s in enumerate(subjects) if s == subject)
        train = tuple(i for i, s in enumerate(subjects) if s != subject)
        folds.append(Fold(subject, train, test, (subject,)))
    return check_disjoint(folds, subjects)
