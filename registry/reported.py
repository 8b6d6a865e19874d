"""Published figures of a model, as data: what a paper (or its released logs) reports.

A model file lists its figures as :class:`Reported` rows and registers them with the model
(``MODELS.register(..., reported=REPORTED)``); ``zoo info`` shows them and the leaderboard
puts them beside reproduced figures. Each row says where the figure comes from and how it
was obtained, so a number chosen on the test subject can be flagged rather than compared
as if it were a clean LOSO figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SELECTIONS = {
    "last": "model of the last epoch (fixed budget)",
    "test-subject-best": "best epoch chosen on the test subject's own accuracy (leaks test information)",
    "unknown": "the paper does not say how the evaluated epoch was chosen",
}
UAR_KINDS = {
    "recall": "unweighted average recall (MEGC)",
    "macro-precision": "labelled UAR in the paper but computed as macro-averaged precision",
}


@dataclass(frozen=True)
class Reported:
    """One published figure set of a model on one benchmark (dataset x class set x protocol).

    ``dataset``/``class_set``/``protocol`` are registered names where mer-zoo has the
    benchmark (``megc2019``, ``megc2019-3``, ``loso``); ``part`` names a composite's part
    (``smic``, ``casme2``, ``samm``), ``None`` the whole set. ``variant`` tells apart several
    figure sets of one paper (e.g. "paper", "official PyTorch re-run").
    """

    dataset: str
    class_set: str
    protocol: str
    source: str
    uf1: float | None = None
    uar: float | None = None
    accuracy: float | None = None
    part: str | None = None
    variant: str = "paper"
    selection: str = "unknown"
    uar_is: str = "recall"
    caveat: str = ""

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection {self.selection!r} is not one of {', '.join(SELECTIONS)}")
        if self.uar_is not in UAR_KINDS:
            raise ValueError(f"uar_is {self.uar_is!r} is not one of {', '.join(UAR_KINDS)}")
        for name in ("uf1", "uar", "accuracy"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name}={value} is not a fraction in [0, 1]")

    @property
    def leaks_test_subject(self) -> bool:
        return self.selection == "test-subject-best"

    def to_dict(self) -> dict:
        return asdict(self)
