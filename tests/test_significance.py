"""Subject-level intervals and paired tests (benchmarks.significance) against hand-computed
cases, exact enumeration, coverage by simulation and p-values under the null."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from benchmarks import significance
from benchmarks.metrics import unweighted_average_recall, unweighted_f1
from registry.errors import ConfigError

CLASSES = ("negative", "positive", "surprise")


def samples_of(subjects: dict[str, list[tuple[int, int]]]) -> list[dict]:
    """``subject -> [(label, prediction), ...]`` as result-file samples."""
    return [{"clip": f"{subject}/c{i}", "label": label, "prediction": prediction}
            for subject, pairs in subjects.items() for i, (label, prediction) in enumerate(pairs)]


def counts_of(subjects, classes=CLASSES) -> significance.SubjectCounts:
    return significance.subject_counts([samples_of(subjects)], classes)


def test_vectorised_metrics_equal_the_megc_definitions():
    rng = np.random.default_rng(3)
    for _ in range(50):
        labels, predictions = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
        labels[labels == 2] = rng.integers(0, 2)  # sometimes a class without ground truth
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (labels, predictions), 1)
        assert significance.metric_of(confusion, "uf1") == pytest.approx(unweighted_f1(labels, predictions, 3))
        assert significance.metric_of(confusion, "uar") == pytest.approx(
            unweighted_average_recall(labels, predictions, 3))


def test_seeds_are_averaged_per_subject_and_must_test_the_same_clips():
    one = samples_of({"s1": [(0, 0), (1, 0)], "s2": [(2, 2)]})
    two = samples_of({"s1": [(0, 1), (1, 1)], "s2": [(2, 2)]})
    counts = significance.subject_counts([one, two], CLASSES)
    assert counts.subjects == ("s1", "s2")
    assert counts.counts[0].tolist() == [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 0]]
    assert counts.counts[1].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 1]]
    with pytest.raises(ConfigError, match="same clips"):
        significance.subject_counts([one, one[:1]], CLASSES)


def test_interval_of_two_subjects_by_hand():
    """Subject A: one positive clip, right; B: one negative clip, wrong. Resamples: AA (UF1 1,
    p 1/4), AB or BA (1/3, p 1/2), BB (0, p 1/4). BCa: z0 = Φ⁻¹((P(<1/3) + P(≤1/3)) / 2) =
    Φ⁻¹(1/2) = 0, and the jackknife values (0 and 1) are symmetric, so the acceleration is 0:
    the interval is the 2.5 % and 97.5 % quantiles, 0 and 1."""
    counts = counts_of({"A": [(1, 1)], "B": [(0, 1)]}, CLASSES[:2])
    assert significance.metric_of(counts.counts.sum(0), "uf1") == pytest.approx(1 / 3)
    assert significance.interval(counts, "uf1") == {"low": 0.0, "high": 1.0, "method": "BCa"}


def test_identical_subjects_give_a_point_interval():
    counts = counts_of({f"s{i}": [(0, 0), (1, 2), (2, 2)] for i in range(6)})
    value = significance.metric_of(counts.counts.sum(0), "uf1")
    assert significance.interval(counts, "uf1") == {"low": value, "high": value, "method": "percentile"}


def test_permutation_p_value_by_exact_enumeration():
    """Four subjects: 2^4 = 16 swap patterns, fewer than the resamples, so scipy enumerates them
    all; the p-value is the share of patterns whose |difference| reaches the observed one."""
    a = {"s1": [(0, 0), (1, 1)], "s2": [(2, 2), (0, 0)], "s3": [(1, 1), (2, 0)], "s4": [(0, 0)]}
    b = {"s1": [(0, 1), (1, 1)], "s2": [(2, 0), (0, 0)], "s3": [(1, 1), (2, 2)], "s4": [(0, 2)]}
    counts_a, counts_b = counts_of(a), counts_of(b)
    observed, p_value = significance.permutation_test(counts_a, counts_b, "uf1")

    def uf1(rows):
        return significance.metric_of(sum(rows), "uf1")

    assert observed == pytest.approx(uf1(counts_a.counts) - uf1(counts_b.counts))
    extreme = 0
    for swaps in itertools.product((False, True), repeat=4):
        left = [cb if s else ca for s, ca, cb in zip(swaps, counts_a.counts, counts_b.counts)]
        right = [ca if s else cb for s, ca, cb in zip(swaps, counts_a.counts, counts_b.counts)]
        extreme += abs(uf1(left) - uf1(right)) >= abs(observed) - 1e-12
    assert p_value == pytest.approx(extreme / 16)
    assert 0 < p_value < 1


def test_a_run_compared_with_itself_differs_by_zero_with_p_one():
    counts = counts_of({"s1": [(0, 0), (1, 2)], "s2": [(2, 2)], "s3": [(1, 1), (0, 1)]})
    report = significance.compare(counts, counts, {"x": ["s1", "s2"]})
    for metric in ("uf1", "uar"):
        assert report[metric]["difference"] == 0 and report[metric]["p_value"] == 1.0
        assert report[metric]["ci"] == [0.0, 0.0]
    assert report["parts"]["x"]["uf1"]["p_value"] == 1.0
    assert report["recall"] == {c: 0.0 for c in CLASSES}


def test_runs_on_other_clips_or_classes_are_refused():
    a = counts_of({"s1": [(0, 0)], "s2": [(1, 1)]})
    with pytest.raises(ConfigError, match=r"test different clips \(1 only in A, e\.g\. s2/c0 \(label 1\); 1 only in B"):
        significance.compare(a, counts_of({"s1": [(0, 0)], "s3": [(1, 1)]}))
    with pytest.raises(ConfigError, match="different classes"):
        significance.compare(a, counts_of({"s1": [(0, 0)], "s2": [(1, 1)]}, CLASSES[:2]))


def simulated_benchmark(rng: np.random.Generator, subjects: int, skill: np.ndarray | float) -> dict:
    """Subjects of 2-8 clips with uniform labels; each subject's accuracy ``skill`` (per subject),
    a wrong prediction uniform over the other classes."""
    skill = np.broadcast_to(skill, (subjects,))
    runs = {}
    for s in range(subjects):
        labels = rng.integers(0, 3, rng.integers(2, 9))
        right = rng.random(len(labels)) < skill[s]
        predictions = np.where(right, labels, (labels + rng.integers(1, 3, len(labels))) % 3)
        runs[f"s{s:02d}"] = list(zip(labels.tolist(), predictions.tolist()))
    return runs


def test_intervals_cover_the_population_uf1_about_95_percent_of_the_time(monkeypatch):
    """Subjects' accuracies drawn from Beta(6, 4), so the population's expected confusion is
    symmetric with 0.6 on the diagonal: its UF1 is 0.6. 300 benchmarks of 30 subjects."""
    monkeypatch.setattr(significance, "RESAMPLES", 999)  # the coverage, not the last digit
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        bench = simulated_benchmark(rng, 30, rng.beta(6, 4, 30))
        bounds = significance.interval(counts_of(bench), "uf1")
        covered += bounds["low"] <= 0.6 <= bounds["high"]
    assert 0.90 <= covered / 300 <= 0.99


def test_p_values_are_uniform_under_the_null(monkeypatch):
    """Two runs drawn from one model on the same clips: the permutation p-values of 200 such
    pairs are uniform (Kolmogorov-Smirnov)."""
    monkeypatch.setattr(significance, "RESAMPLES", 499)
    rng = np.random.default_rng(5)
    p_values = []
    for _ in range(200):
        skill = rng.beta(6, 4, 20)
        a = simulated_benchmark(rng, 20, skill)
        b = {s: [(label, label if rng.random() < skill[i] else (label + rng.integers(1, 3)) % 3)
                 for label, _ in pairs] for i, (s, pairs) in enumerate(a.items())}
        p_values.append(significance.permutation_test(counts_of(a), counts_of(b), "uf1")[1])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09


def test_seeds_that_all_score_above_the_others_give_the_smallest_p_their_number_allows():
    # 3 seeds a side: 20 ways to deal 6 runs out 3 and 3; only the observed one (and, two-sided,
    # its mirror) is as extreme, so p = 2/20
    report = significance.seed_difference([0.5, 0.6, 0.7], [0.1, 0.2, 0.3])
    assert report["difference"] == pytest.approx(0.4)
    assert report["splits"] == 20 and report["p_value"] == pytest.approx(0.1)
    # interleaved seeds: the means differ by .1; 8 of the 20 deals differ by .1 or more either way
    interleaved = significance.seed_difference([0.2, 0.4, 0.6], [0.1, 0.3, 0.5])
    deals = [np.mean(a) - (2.1 - np.sum(a)) / 3 for a in itertools.combinations([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 3)]
    assert interleaved["difference"] == pytest.approx(0.1)
    assert interleaved["p_value"] == pytest.approx(np.mean(np.abs(deals) >= 0.1 - 1e-12))
    with pytest.raises(ConfigError, match="at least 2 seeds a side, not 1 and 3"):
        significance.seed_difference([0.5], [0.1, 0.2, 0.3])


def test_across_seeds_tests_each_seeds_own_metric_whole_and_per_part():
    runs_a = [{"s1": [(0, 0), (1, 1)], "s2": [(2, 2), (0, 1)]}, {"s1": [(0, 0), (1, 0)], "s2": [(2, 2), (0, 0)]}]
    runs_b = [{"s1": [(0, 1), (1, 1)], "s2": [(2, 0), (0, 0)]}, {"s1": [(0, 2), (1, 1)], "s2": [(2, 2), (0, 1)]}]
    report = significance.across_seeds([counts_of(r) for r in runs_a], [counts_of(r) for r in runs_b], {"x": ["s1"]})

    def uf1(run, subjects=("s1", "s2")):
        pairs = [p for s in subjects for p in run[s]]
        return unweighted_f1([t for t, _ in pairs], [p for _, p in pairs], 3)

    assert report["uf1"]["a"] == pytest.approx([uf1(r) for r in runs_a])
    assert report["uf1"]["b"] == pytest.approx([uf1(r) for r in runs_b])
    assert report["uf1"]["difference"] == pytest.approx(np.mean([uf1(r) for r in runs_a]) - np.mean([uf1(r) for r in runs_b]))
    assert report["parts"]["x"]["uf1"]["a"] == pytest.approx([uf1(r, ("s1",)) for r in runs_a])
    assert report["uf1"]["splits"] == 6 and 0 < report["uf1"]["p_value"] <= 1
