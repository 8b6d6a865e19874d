import numpy as np
import pytest
from sklearn.metrics import f1_score, recall_score

from benchmarks.metrics import (
    accuracy,
    confusion_matrix,
    summarize,
    unweighted_average_recall,
    unweighted_f1,
)


def test_hand_computed_three_classes():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    # class 0: tp 2 fp 0 fn 1 -> F1 4/5, recall 2/3
    # class 1: tp 1 fp 1 fn 1 -> F1 1/2, recall 1/2
    # class 2: tp 1 fp 1 fn 0 -> F1 2/3, recall 1
    assert unweighted_f1(y_true, y_pred, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert unweighted_average_recall(y_true, y_pred, 3) == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert confusion_matrix(y_true, y_pred, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_class_without_ground_truth_is_left_out_as_megc_does():
    # class 2 never occurs in y_true but is predicted once
    y_true, y_pred = [0, 0, 1, 1], [0, 2, 1, 1]
    # class 0: F1 2/3 (tp1 fn1), recall 1/2; class 1: F1 1, recall 1; class 2 ignored
    assert unweighted_f1(y_true, y_pred, 3) == pytest.approx((2 / 3 + 1) / 2)
    assert unweighted_average_recall(y_true, y_pred, 3) == pytest.approx(0.75)


def test_matches_sklearn_macro_over_present_labels():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true = rng.integers(0, 5, 60)
        y_pred = np.where(rng.random(60) < 0.5, y_true, rng.integers(0, 5, 60))
        labels = sorted(set(y_true.tolist()))
        assert unweighted_f1(y_true, y_pred, 5) == pytest.approx(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        )
        assert unweighted_average_recall(y_true, y_pred, 5) == pytest.approx(
            recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        )


def test_pooled_is_not_the_mean_of_folds():
    fold_a = ([0, 0], [0, 0])
    fold_b = ([1, 1, 1, 0], [1, 1, 0, 0])
    pooled = unweighted_f1(fold_a[0] + fold_b[0], fold_a[1] + fold_b[1], 2)
    per_fold = np.mean([unweighted_f1(*fold_a, 2), unweighted_f1(*fold_b, 2)])
    # pooled: class 0 tp3 fp1 fn0 -> 6/7; class 1 tp2 fp0 fn1 -> 4/5
    assert pooled == pytest.approx((6 / 7 + 4 / 5) / 2)
    # per fold: fold a only has class 0 (F1 1); fold b (2/3 + 4/5) / 2
    assert per_fold == pytest.approx((1 + (2 / 3 + 0.8) / 2) / 2)
    assert per_fold != pytest.approx(pooled)


def test_summary_and_bad_labels():
    s = summarize([0, 1, 1], [0, 1, 0], ["a", "b"])
    assert s["per_class"]["b"] == {"f1": pytest.approx(2 / 3), "recall": 0.5, "support": 2}
    assert s["num_samples"] == 3
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        confusion_matrix([0, 2], [0, 1], 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):  # beyond int64
        confusion_matrix([0, 1], [0, 2**70], 2)
