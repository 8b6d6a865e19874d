"""CASME II (Yan et al., 2014): reader for the coding sheet and the distributed frame layouts.

Layouts, detected from what is on disk:
- ``CASME2_RAW_selected/subNN/EPxx_yy/img<frame>.jpg`` (raw release)
- ``Cropped/subNN/EPxx_yy/reg_img<frame>.jpg`` (cropped release; some copies name the
  subject folders with bare numbers, ``Cropped/1/...``)
The sheet (``CASME2-coding-*.xlsx``, dated differently per release) is read by column name:
it has unnamed columns in between the named ones.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.datasets._tables import (
    MEB,
    Erratum,
    IndexBuilder,
    as_int,
    as_text,
    find_file,
    find_folder,
    is_dir,
    read_sheet,
    row_errata,
)
from benchmarks.records import ClassSet, DatasetIndex
from registry import CLASS_SETS, DATASETS

CITATION = (
    "Yan, W.-J., Li, X., Wang, S.-J., Zhao, G., Liu, Y.-J., Chen, Y.-H., Fu, X. CASME II: An "
    "Improved Spontaneous Micro-Expression Database and the Baseline Evaluation. PLoS ONE "
    "9(1): e86041, 2014."
)

SHEET_GLOB = "CASME2-coding-*.xlsx"
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}
FRAME_FOLDERS = ("CASME2_RAW_selected", "Cropped", "CASME2_RAW", "cropped")

CLASS_SETS.add(
    "casme2-5",
    ClassSet(
        name="casme2-5",
        classes=("happiness", "disgust", "repression", "surprise", "others"),
        mapping={
            "happiness": "happiness",
            "disgust": "disgust",
            "repression": "repression",
            "surprise": "surprise",
            "others": "others",
        },
        excluded=("fear", "sadness"),
        reference_counts={
            "happiness": 32, "disgust": 63, "repression": 27, "surprise": 25, "others": 99
        },
        reference_subjects=26,
        source="Yan et al. 2014; the 5-class split used by MMNet and most MER work (246 clips)",
    ),
    summary="CASME II 5 classes: happiness, disgust, repression, surprise, others",
)
CLASS_SETS.add(
    "casme2-3",
    ClassSet(
        name="casme2-3",
        classes=("negative", "positive", "surprise"),
        mapping={
            "disgust": "negative",
            "repression": "negative",
            "happiness": "positive",
            "surprise": "surprise",
        },
        excluded=("fear", "sadness", "others"),
        reference_counts={"negative": 90, "positive": 32, "surprise": 25},
        source="MEGC 2019 rule (the official composite list drops 2 further clips)",
    ),
    summary="CASME II 3 classes: negative (disgust, repression), positive, surprise",
)


# Corrections to the published sheet, applied by default (``errata=False`` turns them off),
# each only where the published row is broken (see Erratum). Only sourced corrections:
# MEB gives them by data-frame index i, which is sheet row i + 2. MEB's apexes replace the
# non-numeric apex cells with frames it estimated from optical flow.
ERRATA: tuple[Erratum, ...] = (
    row_errata("offset", {62: 91}, f"{MEB}: 'Mistake in file, change offset to 91'")
    + row_errata("apex", {i + 2: apex for i, apex in zip(
        [29, 35, 43, 45, 51, 53, 60, 117, 118, 126, 136, 147, 155, 168, 170, 177, 202, 203, 234,
         237, 238],
        [279, 68, 77, 81, 166, 100, 78, 187, 89, 80, 88, 134, 231, 53, 329, 111, 91, 103, 98, 153,
         98])}, f"{MEB}: missing apex estimated from optical flow")
)


def subject_folder(frames_root: Path, subject: int) -> Path | None:
    """The sheet's integer subject as a folder: sub01, sub1, 1 or 01, whichever exists."""
    for name in (f"sub{subject:02d}", f"sub{subject}", str(subject), f"{subject:02d}"):
        if is_dir(frames_root / name):
            return frames_root / name
    return None


def subject_number(value: object) -> int | None:
    """1 from 1, 1.0, "01" or "sub01"."""
    return as_int(re.sub(r"^sub", "", as_text(value), flags=re.IGNORECASE))


def read_casme2(root: Path, dataset: str = "casme2", errata: bool = True) -> DatasetIndex:
    """Read the CASME II coding sheet and frame folders under ``root``."""
    sheet = find_file(root, [SHEET_GLOB], "CASME II coding sheet",
                      "copy the sheet from the CASME II release next to the frame folders")
    rows = read_sheet(sheet, COLUMNS, "CASME II")  # sheet problems first: they name the file
    frames_root = find_folder(root, FRAME_FOLDERS, "CASME II frame",
                              "unpack the release's frames next to the coding sheet")
    # the errata belong to the official sheet, not to other sheets in its format (synth)
    builder = IndexBuilder(dataset, root, ERRATA if dataset == "casme2" else (), use_errata=errata)
    for row in rows:
        subject = subject_number(row.cells["subject"])
        name = as_text(row.cells["clip"])
        if subject is None or not name:
            builder.exclude(row.where, f"subject {row.cells['subject']!r} or filename {name!r} unusable")
            continue
        folder = subject_folder(frames_root, subject)
        builder.add(
            row.where, f"sub{subject:02d}", name, as_text(row.cells["emotion"]),
            folder / name if folder is not None else frames_root / f"sub{subject:02d}" / name,
            row.cells["onset"], row.cells["apex"], row.cells["offset"],
            action_units=as_text(row.cells["action_units"]), sheet_row=row.number,
        )
    return builder.build()


DATASETS.register(
    "casme2",
    citation=CITATION,
    summary="CASME II: 26 subjects, 255 clips at 200 fps (licence-restricted)",
    class_sets={"5": "casme2-5", "3": "casme2-3"},
    restricted=True,
    errata=ERRATA,
)(read_casme2)
