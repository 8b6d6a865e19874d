"""Which differences are real: subject-level confidence intervals and paired tests (scipy).

The unit of independence in a LOSO benchmark is the subject (clips of one subject share a face
and a session), so every resampling here resamples or swaps whole subjects with all their
clips, and recomputes the pooled metric (UF1 or UAR over all clips, as MEGC defines them) each
time. A configuration run at several seeds is reduced to its seed-mean: each subject's
confusion counts averaged over the seeds (every seed tests the same clips), so resampling a
subject takes it in every seed at once, and the statistic is the metric of the seed-mean
counts. With one seed that is the run's own metric.

- :func:`interval`: bias-corrected and accelerated (BCa) bootstrap interval of a metric over subjects
  (``scipy.stats.bootstrap``, vectorised), percentile where BCa is not defined (every resample
  gives the same value); seeded, so a stored interval can be recomputed exactly.
- :func:`compare`: the difference of two configurations on the same clips, its paired
  bootstrap interval over subjects, and the p-value of a paired permutation test that swaps the
  two sides' predictions subject by subject (``scipy.stats.permutation_test``; exact when the
  2^subjects swaps are fewer than the resamples).
- :func:`across_seeds`: the same difference tested over seeds instead: the seeds' runs of both
  configurations shuffled between them. The paired test holds each side's trained models
  fixed, so it does not see training noise; this one does, at the power a few seeds allow.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import scipy
from scipy import stats

from benchmarks.records import subject_of_key
from registry.errors import ConfigError

CONFIDENCE = 0.95
RESAMPLES = 9999
SEED = 0  # every interval and test is seeded: recomputing one gives the same numbers
METRICS = ("uf1", "uar")


@dataclass(frozen=True)
class SubjectCounts:
    """One configuration's seed-mean confusion counts per subject: ``counts[s, true, predicted]``."""

    subjects: tuple[str, ...]
    clips: frozenset[tuple[str, int]]  # (clip, label): what makes two sets of runs comparable
    counts: np.ndarray
    classes: tuple[str, ...]

    def part(self, subjects: Iterable[str]) -> "SubjectCounts":
        """The counts of some subjects only (a part of a composite)."""
        keep = set(subjects)
        rows = [i for i, s in enumerate(self.subjects) if s in keep]
        clips = frozenset(c for c in self.clips if subject_of_key(c[0]) in keep)
        return SubjectCounts(tuple(self.subjects[i] for i in rows), clips, self.counts[rows], self.classes)


def subject_counts(runs: Sequence[Sequence[dict]], classes: Sequence[str]) -> SubjectCounts:
    """The seed-mean counts of runs of one configuration; ``runs``: each seed's samples (dicts
    with ``clip``, ``label``, ``prediction``). Every seed must test the same clips."""
    clips = [frozenset((s["clip"], s["label"]) for s in samples) for samples in runs]
    if not runs or any(c != clips[0] for c in clips):
        raise ConfigError("the seeds of a configuration must test the same clips")
    subjects = tuple(sorted({subject_of_key(c) for c, _ in clips[0]}))
    row = {s: i for i, s in enumerate(subjects)}
    counts = np.zeros((len(subjects), len(classes), len(classes)))
    for samples in runs:
        for sample in samples:
            counts[row[subject_of_key(sample["clip"])], sample["label"], sample["prediction"]] += 1
    return SubjectCounts(subjects, clips[0], counts / len(runs), tuple(classes))


def metric_of(confusion: np.ndarray, metric: str) -> np.ndarray:
    """UF1 or UAR of confusion counts ``[..., true, predicted]``, vectorised over the leading
    axes: the mean over the classes with ground truth (MEGC; :mod:`benchmarks.metrics`)."""
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    support = confusion.sum(-1)
    if metric == "uf1":
        denominator = support + confusion.sum(-2)
        per_class = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    elif metric == "uar":
        per_class = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    else:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric}")
    present = support > 0
    with np.errstate(invalid="ignore"):
        return (per_class * present).sum(-1) / present.sum(-1)


def _pooled(counts: np.ndarray, metric: str):
    """The statistic of resampled subject indices ``[..., n]``: the metric of their summed counts."""
    def statistic(rows: np.ndarray, axis: int = -1) -> np.ndarray:
        return metric_of(counts[np.moveaxis(rows, axis, -1)].sum(-3), metric)
    return statistic


def _bootstrap(statistic, subjects: int, paired_value: float) -> dict:
    """A seeded BCa bootstrap over ``subjects`` indices; percentile where BCa is undefined."""
    data = (np.arange(subjects),)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BCa on a degenerate distribution: NaN, then percentile
            result = stats.bootstrap(data, statistic, n_resamples=RESAMPLES, vectorized=True,
                                     confidence_level=CONFIDENCE, method=method,
                                     random_state=np.random.default_rng(SEED))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if not (np.isnan(low) or np.isnan(high)):
            return {"low": low, "high": high, "method": method}
    return {"low": paired_value, "high": paired_value, "method": "degenerate"}


def interval(counts: SubjectCounts, metric: str) -> dict:
    """``{"low", "high", "method"}``: the 95 % bootstrap interval of ``metric`` over subjects."""
    statistic = _pooled(counts.counts, metric)
    value = float(statistic(np.arange(len(counts.subjects))))
    if len(counts.subjects) < 2:
        return {"low": value, "high": value, "method": "degenerate"}
    return _bootstrap(statistic, len(counts.subjects), value)


def run_intervals(samples: Sequence[dict], classes: Sequence[str], part_of: Callable[[str], str] | None) -> dict:
    """What a result file records (``intervals``): UF1 and UAR intervals of one run's pooled
    predictions, and of each part of a composite (``part_of``: clip key -> part)."""
    return intervals(subject_counts([samples], classes), subjects_by_part((s["clip"] for s in samples), part_of))


def subjects_by_part(clips: Iterable[str], part_of: Callable[[str], str] | None) -> dict[str, set[str]]:
    """Each part of a composite (``part_of``: clip key -> part) with the subjects of ``clips``
    in it; empty for a dataset that is not a composite (``part_of`` is ``None``)."""
    parts: dict[str, set[str]] = {}
    for clip in clips if part_of else ():
        parts.setdefault(part_of(clip), set()).add(subject_of_key(clip))
    return parts


def intervals(counts: SubjectCounts, parts: dict[str, Iterable[str]] | None = None) -> dict:
    """UF1 and UAR intervals of the whole set and of each part (``parts``: part -> its
    subjects), with how they were computed."""
    record = {
        "confidence": CONFIDENCE, "resamples": RESAMPLES, "seed": SEED, "unit": "subject",
        **{metric: interval(counts, metric) for metric in METRICS},
    }
    if parts:
        record["parts"] = {
            part: {metric: interval(counts.part(subjects), metric) for metric in METRICS}
            for part, subjects in sorted(parts.items())
        }
    return record


def check_comparable(a: SubjectCounts, b: SubjectCounts, names: tuple[str, str] = ("A", "B")) -> None:
    """Refuse a paired comparison of runs on different clips or class sets."""
    if a.classes != b.classes:
        raise ConfigError(f"{names[0]} and {names[1]} have different classes ({', '.join(a.classes)} vs "
                          f"{', '.join(b.classes)}); compare runs of one class set")
    if a.clips != b.clips:
        only_a, only_b = (sorted(f"{c} (label {label})" for c, label in side) for side in (a.clips - b.clips, b.clips - a.clips))
        raise ConfigError(
            f"{names[0]} and {names[1]} test different clips ({len(only_a)} only in {names[0]}, e.g. "
            f"{', '.join(only_a[:2]) or '-'}; {len(only_b)} only in {names[1]}, e.g. {', '.join(only_b[:2]) or '-'}); "
            "compare runs of one benchmark and class set"
        )


def _paired(a: SubjectCounts, b: SubjectCounts, metric: str):
    """Both sides' counts stacked (rows 0..n-1: A's subjects, n..2n-1: B's, in the same order)
    and the statistic A minus B of subject indices into them."""
    check_comparable(a, b)
    pooled = _pooled(np.concatenate([a.counts, b.counts]), metric)

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return pooled(x, axis) - pooled(y, axis)

    return len(a.subjects), diff


def permutation_test(a: SubjectCounts, b: SubjectCounts, metric: str) -> tuple[float, float]:
    """(A minus B, two-sided p-value) of ``metric``: each subject's predictions swapped between
    the sides or not, every swap pattern equally likely under the null of no difference."""
    n, diff = _paired(a, b, metric)
    observed = float(diff(np.arange(n), np.arange(n) + n))
    if n < 2:
        return observed, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = stats.permutation_test((np.arange(n), np.arange(n) + n), diff, permutation_type="samples",
                                      vectorized=True, n_resamples=RESAMPLES,
                                      random_state=np.random.default_rng(SEED))
    return observed, float(test.pvalue)


def difference(a: SubjectCounts, b: SubjectCounts, metric: str) -> dict:
    """``{"difference", "ci": [low, high], "p_value", "method"}`` of ``metric`` (A minus B) on
    the same clips: the paired bootstrap interval over subjects and the permutation test."""
    n, diff = _paired(a, b, metric)
    observed, p_value = permutation_test(a, b, metric)
    if n < 2:
        return {"difference": observed, "ci": [observed, observed], "p_value": p_value, "method": "degenerate"}
    ci = _bootstrap(lambda rows, axis=-1: diff(rows, rows + n, axis), n, observed)
    return {"difference": observed, "ci": [ci["low"], ci["high"]], "p_value": p_value, "method": ci["method"]}


def seed_difference(a: Sequence[float], b: Sequence[float]) -> dict:
    """``{"difference", "p_value", "splits"}``: the difference of two configurations' mean
    metric over their seeds (``a``, ``b``: one value per seed), and the two-sided p-value of
    a permutation test that deals the pooled seeds' values out to the two sides in every way
    (``splits`` of them, exact up to :data:`RESAMPLES`; the p-value cannot go below 2 / splits:
    with three seeds a side, .1)."""
    if len(a) < 2 or len(b) < 2:
        raise ConfigError(f"a test across seeds needs at least 2 seeds a side, not {len(a)} and {len(b)}")
    splits = scipy.special.comb(len(a) + len(b), len(a), exact=True)
    test = stats.permutation_test((np.asarray(a), np.asarray(b)), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                                  permutation_type="independent", vectorized=True, n_resamples=RESAMPLES,
                                  random_state=np.random.default_rng(SEED))
    return {"difference": float(np.mean(a) - np.mean(b)), "p_value": float(test.pvalue), "splits": splits}


def across_seeds(a: Sequence[SubjectCounts], b: Sequence[SubjectCounts],
                 parts: dict[str, Sequence[str]] | None = None) -> dict:
    """UF1 and UAR of each seed's run (``a``, ``b``: one :class:`SubjectCounts` per seed) and
    :func:`seed_difference` of the two configurations, whole set and each part."""
    def per_seed(side: Sequence[SubjectCounts], subjects: Sequence[str] | None, metric: str) -> list[float]:
        return [float(metric_of((c.part(subjects) if subjects is not None else c).counts.sum(0), metric)) for c in side]

    def test(values_a: list[float], values_b: list[float]) -> dict:
        return {**seed_difference(values_a, values_b), "a": values_a, "b": values_b}

    def tests(subjects: Sequence[str] | None) -> dict:
        return {metric: test(per_seed(a, subjects, metric), per_seed(b, subjects, metric)) for metric in METRICS}

    return {**tests(None), "parts": {part: tests(subjects) for part, subjects in sorted((parts or {}).items())},
            "test": "exact permutation test over seeds: each seed's run dealt to either configuration, means compared"}


def by_scope(report: dict) -> list[tuple[str | None, dict]]:
    """A report of :func:`compare` or :func:`across_seeds` as ``(part, {metric: test})`` rows:
    the whole set first (part ``None``), then each part of a composite."""
    return [(None, {metric: report[metric] for metric in METRICS}), *report["parts"].items()]


def compare(a: SubjectCounts, b: SubjectCounts, parts: dict[str, Sequence[str]] | None = None) -> dict:
    """What ``zoo compare`` reports: UF1 and UAR differences (whole set and each part) and the
    per-class recall differences, A minus B."""
    check_comparable(a, b)
    pooled_a, pooled_b = a.counts.sum(0), b.counts.sum(0)
    recall_a, recall_b = (np.divide(np.diag(m), m.sum(1), out=np.zeros(len(a.classes)), where=m.sum(1) > 0)
                          for m in (pooled_a, pooled_b))
    report = {metric: difference(a, b, metric) for metric in METRICS}
    report["recall"] = {c: float(ra - rb) for c, ra, rb in zip(a.classes, recall_a, recall_b)}
    report["parts"] = {
        part: {metric: difference(a.part(subjects), b.part(subjects), metric) for metric in METRICS}
        for part, subjects in sorted((parts or {}).items())
    }
    report["subjects"], report["clips"] = len(a.subjects), len(a.clips)
    report["test"] = (f"paired over subjects: bootstrap {CONFIDENCE:.0%} interval ({RESAMPLES} resamples) and "
                      f"permutation test swapping each subject's predictions ({RESAMPLES} resamples, "
                      f"exact below that), seed {SEED}, scipy {scipy.__version__}")
    return report
