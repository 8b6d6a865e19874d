"""Macro-expression corpora for pre-training, one reader per layout, in ``registry.MACRO``.

A macro corpus is read into the same :class:`benchmarks.records.DatasetIndex` as a micro
dataset: each clip is one onset->apex segment (neutral->apex for CK+ style sequences, the
whole clip for DFEW, which annotates no apex) whose frames pre-training samples pairs from. Emotion labels are optional (pre-training does not
use them). Every entry declares how its subject ids relate to micro datasets
(``same_subjects_as``: micro datasets whose subject ids denote the same people), so a
fine-tuning result can record subject overlap and pre-training can exclude it.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.datasets import DATA_ROOT_ENV
from benchmarks.records import DatasetIndex
from registry import MACRO
from registry.errors import DataError


def locate_macro(name: str, data_root: Path | str | None = None) -> Path:
    """Where corpus ``name`` lives: generated corpora need no root; others come from
    ``data_root`` or ``$ZOO_DATA_ROOT/<name>``."""
    entry = MACRO.get(name)
    if data_root is None and entry.meta.get("generated"):
        return entry.meta["default_root"]()
    if data_root is None and not os.environ.get(DATA_ROOT_ENV):
        raise DataError(
            f"macro corpus '{name}' is not shipped; pass --data-root PATH (its layout: "
            f"{entry.meta.get('layout', 'see zoo info ' + name)}) or set {DATA_ROOT_ENV}"
        )
    root = Path(data_root).expanduser() if data_root else Path(os.environ[DATA_ROOT_ENV]) / name
    if not root.is_dir():
        raise DataError(f"macro corpus '{name}' not found at {root}: no such folder")
    return root


def load_macro(name: str, data_root: Path | str | None = None) -> DatasetIndex:
    return MACRO.get(name).obj(locate_macro(name, data_root))


def overlapping_subjects(
    corpus_subjects: list[str], same_subjects_as: list[str], dataset: str, eval_subjects: list[str]
) -> list[str]:
    """Evaluation subjects that are also pre-training subjects (same people, same ids)."""
    if dataset not in same_subjects_as:
        return []
    return sorted(set(corpus_subjects) & set(eval_subjects))
