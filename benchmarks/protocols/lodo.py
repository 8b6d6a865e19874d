"""Leave one database out: train on all but one source database of a composite, test on it.

MEGC 2018's holdout-database evaluation (Yap et al., FG 2018) and the cross-dataset validator
of the MEB toolkit: on the MEGC 2019 composite, three folds (SMIC, CASME II, SAMM held out in
turn), each trained on the other two. Per held-out database UF1/UAR are the run's part metrics;
the pooled figures are the run's metrics.
"""

from __future__ import annotations

from benchmarks.protocols import Fold, check_disjoint
from benchmarks.records import natural_key
from registry import PROTOCOLS
from registry.errors import ConfigError


@PROTOCOLS.register(
    "lodo",
    citation="Yap, M.H., See, J., Hong, X., Wang, S.-J. Facial Micro-Expressions Grand Challenge 2018 "
    "Summary. IEEE FG 2018 (holdout-database evaluation); MEB toolkit cross-dataset validation.",
    needs_databases=True,
)
def lodo_folds(subjects: list[str], seed: int = 0, databases: list[str] | None = None) -> list[Fold]:
    """One fold per source database: its clips are the test set, the other databases' train."""
    if databases is None or len(databases) != len(subjects):
        raise ConfigError("leave-one-database-out needs each sample's source database (a composite dataset)")
    owners: dict[str, set[str]] = {}
    for subject, database in zip(subjects, databases):
        owners.setdefault(subject, set()).add(database)
    spanning = sorted(s for s, held in owners.items() if len(held) > 1)
    if spanning:
        raise ConfigError(f"subject(s) {', '.join(spanning[:5])} appear in more than one database; "
                          "their clips would be on both sides of a fold")
    if len(set(databases)) < 2:
        raise ConfigError(f"leave-one-database-out needs two databases or more, not {sorted(set(databases))}")
    folds = []
    for database in sorted(set(databases), key=natural_key):
        test = tuple(i for i, d in enumerate(databases) if d == database)
        train = tuple(i for i, d in enumerate(databases) if d != database)
        held = tuple(sorted({subjects[i] for i in test}, key=natural_key))
        folds.append(Fold(database, train, test, held))
    return check_disjoint(folds, subjects)
