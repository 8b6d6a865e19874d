"""``zoo data inspect``: what a reader found, under one class set, with every problem at once.

A pure function of the index and class set, so the CLI only prints it. Counts are compared
with the reference counts the class set records for the official release; a difference is
a warning (a user's copy may be an older release or incomplete), never an error.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from benchmarks.records import ClassSet, DatasetIndex, natural_key
from registry import DATASETS
from registry.errors import DataError

# How the readers (benchmarks/datasets/_tables.py) word a row left out for want of frames.
MISSING_FRAME_REASONS = ("no frame folder", "holds no images", "missing frame")


def inspect_index(index: DatasetIndex, class_set: ClassSet, dataset: str) -> dict[str, Any]:
    """Samples per class and subject, imputed apexes, excluded rows, missing frames, warnings."""
    entry = DATASETS.get(dataset)
    excluded = [{"row": e.row, "reason": e.reason} for e in index.excluded]
    per_class: Counter[str] = Counter()
    per_subject: Counter[str] = Counter()
    imputed = 0
    for clip in index.clips:
        try:
            label = class_set.label_of(clip.emotion, where=clip.source_row)
        except DataError as exc:
            excluded.append({"row": clip.source_row, "reason": str(exc)})
            continue
        if label is None:
            excluded.append({"row": clip.source_row,
                             "reason": f"label '{clip.emotion}' is left out by {class_set.name}"})
            continue
        per_class[class_set.classes[label]] += 1
        per_subject[clip.subject] += 1
        imputed += clip.apex_imputed
    warnings = list(index.warnings)
    if entry.meta.get("restricted"):
        warnings += reference_differences(per_class, len(per_subject), class_set)
    missing = [e for e in excluded if any(m in e["reason"] for m in MISSING_FRAME_REASONS)]
    return {
        "dataset": dataset,
        "root": str(index.root),
        "class_set": class_set.name,
        "classes": {name: per_class[name] for name in class_set.classes},
        "subjects": {s: per_subject[s] for s in sorted(per_subject, key=natural_key)},
        "num_samples": sum(per_class.values()),
        "num_subjects": len(per_subject),
        "imputed_apex": imputed,
        "excluded": excluded,
        "missing_frames": missing,
        "errata": [{"key": e.key, "field": e.field, "value": e.value, "source": e.source}
                   for e in entry.meta.get("errata", ())],
        "warnings": warnings,
    }


def reference_differences(per_class: Counter[str], num_subjects: int, class_set: ClassSet) -> list[str]:
    """Warnings where a copy's counts differ from those published for the official release."""
    found = []
    for name, expected in class_set.reference_counts.items():
        if per_class[name] != expected:
            found.append(f"class {name}: {per_class[name]} samples, the official release has "
                         f"{expected} ({class_set.source}); your copy may be incomplete or another release")
    if class_set.reference_subjects is not None and num_subjects != class_set.reference_subjects:
        found.append(f"{num_subjects} subjects, the official release has {class_set.reference_subjects} "
                     f"({class_set.source})")
    return found
