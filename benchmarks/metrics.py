"""MER metrics as MEGC defines them: pure functions of pooled labels and predictions.

UF1 and UAR are computed once over the predictions of all LOSO folds pooled together (not
averaged over folds), then averaged over the classes that have ground truth: the MEGC
reference code leaves a class without any true sample out of the mean.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts ``[true, predicted]``."""
    try:
        true, pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    except OverflowError:  # an index beyond int64 is out of range like any other
        raise ValueError(f"labels must lie in [0, {num_classes})") from None
    if true.shape != pred.shape:
        raise ValueError(f"{true.shape[0]} labels but {pred.shape[0]} predictions")
    if true.size and (min(true.min(), pred.min()) < 0 or max(true.max(), pred.max()) >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def per_class_f1(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(float)
    denominator = matrix.sum(0) + matrix.sum(1)  # 2TP + FP + FN
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(1)
    return np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)


def unweighted_f1(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> float:
    """Mean per-class F1 over the classes with at least one true sample (MEGC's UF1)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    present = matrix.sum(1) > 0
    return float(per_class_f1(matrix)[present].mean()) if present.any() else float("nan")


def unweighted_average_recall(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> float:
    """Mean per-class recall over the classes with at least one true sample (MEGC's UAR)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    present = matrix.sum(1) > 0
    return float(per_class_recall(matrix)[present].mean()) if present.any() else float("nan")


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    return float((true == pred).mean()) if true.size else float("nan")


def summarize(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> dict:
    """Every reported figure for one set of predictions, JSON-ready."""
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    return {
        "uf1": unweighted_f1(y_true, y_pred, len(classes)),
        "uar": unweighted_average_recall(y_true, y_pred, len(classes)),
        "accuracy": accuracy(y_true, y_pred),
        "num_samples": int(matrix.sum()),
        "confusion": matrix.tolist(),
        "per_class": {
            name: {"f1": float(f1), "recall": float(recall), "support": int(support)}
            for name, f1, recall, support in zip(
                classes, per_class_f1(matrix), per_class_recall(matrix), matrix.sum(1)
            )
        },
    }


def part_metrics(
    samples: Iterable[dict], part_of: Callable[[str], str] | None, classes: Sequence[str]
) -> dict[str, dict] | None:
    """:func:`summarize` of each part of a composite dataset (MEGC 2019 reports SMIC, CASME II
    and SAMM next to the composite), from samples with ``clip``, ``label`` and ``prediction``;
    ``None`` for a single dataset."""
    if part_of is None:
        return None
    parts: dict[str, list[dict]] = {}
    for sample in samples:
        parts.setdefault(part_of(sample["clip"]), []).append(sample)
    return {
        part: summarize([s["label"] for s in group], [s["prediction"] for s in group], classes)
        for part, group in parts.items()
    }
