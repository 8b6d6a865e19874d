"""The generic macro layout: a folder of frame folders plus a CSV with onset/apex frames.

::

    <root>/annotations.csv        columns: subject, clip, onset, apex[, offset][, emotion]
    <root>/frames/<subject>/<clip>/<anything><frame number>.jpg|png

Frame numbers are the trailing digits of the file names (as in every MER release). This
is also the layout ``synth-macro`` is written in, and a one-line export of DFEW-style
frame folders with their annotations.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.datasets._tables import as_int, list_frames
from benchmarks.records import Clip, DatasetIndex
from registry import MACRO
from registry.errors import DataError

ANNOTATIONS = "annotations.csv"
REQUIRED = ("subject", "clip", "onset", "apex")


def read_generic(root: Path, dataset: str = "macro-folders") -> DatasetIndex:
    """Macro clips from ``frames/<subject>/<clip>/`` folders and ``annotations.csv`` (onset/apex)."""
    sheet = Path(root) / ANNOTATIONS
    if not sheet.is_file():
        raise DataError(
            f"{sheet}: annotation file not found; a macro corpus in the generic layout "
            f"needs {ANNOTATIONS} with columns {', '.join(REQUIRED)}"
        )
    with open(sheet, newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = [h.strip().lower() for h in (rows[0].keys() if rows else [])]
    lacking = [c for c in REQUIRED if c not in header]
    if lacking:
        raise DataError(
            f"{sheet}: no {', '.join(lacking)} column (found: {', '.join(header) or 'none'}); "
            "macro pre-training needs the onset and apex frame of every clip"
        )
    clips = []
    for line, row in enumerate(rows, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items()}
        where = f"{sheet} line {line}"
        onset, apex = as_int(row["onset"]), as_int(row["apex"])
        if onset is None or apex is None or apex < onset:
            raise DataError(
                f"{where}: onset {row['onset']!r} / apex {row['apex']!r} are not frame "
                "numbers with onset <= apex; fix the annotation file"
            )
        folder = Path(root) / "frames" / row["subject"] / row["clip"]
        frames = list_frames(folder) if folder.is_dir() else {}
        missing = [n for n in (onset, apex) if n not in frames]
        if missing:
            raise DataError(f"{where}: frame(s) {missing} not found in {folder}")
        offset = as_int(row.get("offset", "")) or max(frames)
        clips.append(
            Clip(
                dataset=dataset,
                subject=row["subject"],
                clip=row["clip"],
                emotion=row.get("emotion", ""),
                onset=onset,
                apex=apex,
                offset=offset,
                frames=frames,
                source_row=where,
            )
        )
    if not clips:
        raise DataError(f"{sheet}: no clip rows")
    return DatasetIndex(dataset, Path(root), tuple(clips))


MACRO.register(
    "macro-folders",
    summary="Any macro corpus in the generic layout (frames/<subject>/<clip>/ + annotations.csv)",
    layout="frames/<subject>/<clip>/*.jpg + annotations.csv (subject, clip, onset, apex)",
    same_subjects_as=(),
)(read_generic)
