"""MMEW, micro-expression part (Ben et al., 2021): sheet ``MMEW_Micro_Exp.xlsx`` and frames.

Frames are grouped by emotion: ``Micro_Expression/<emotion>/<Filename>/`` in the copies that
circulate, ``Micro_Expression/<subject>/<emotion>/<Filename>/`` (``S03/happiness/S03-01-002/``)
as the dataset's page describes the release. Either is read: a clip's folder is found by its
file name under any emotion folder. A folder whose emotion differs from the sheet's label is
reported (the sheet's label is used).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.datasets._tables import (
    MEB,
    Erratum,
    IndexBuilder,
    as_int,
    as_text,
    find_file,
    find_folder,
    read_sheet,
    row_errata,
)
from benchmarks.records import ClassSet, DatasetIndex, normalize_label
from registry import CLASS_SETS, DATASETS

CITATION = (
    "Ben, X., Ren, Y., Zhang, J., Wang, S.-J., Kpalma, K., Meng, W., Liu, Y.-J. Video-based "
    "Facial Micro-Expression Analysis: A Survey of Datasets, Features and Algorithms. IEEE "
    "TPAMI 44(9): 5826-5846, 2022 (MMEW)."
)
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "OnsetFrame",
    "apex": "ApexFrame",
    "offset": "OffsetFrame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}
# Sourced corrections only (see casme2.ERRATA); MEB's data-frame index i is sheet row i + 2.
_MMEW_ROWS = [33, 35, 36, 37, 38, 39, 40, 41, 42, 142, 143, 145, 146, 148, 154, 156]
ERRATA: tuple[Erratum, ...] = (
    row_errata("apex", {i + 2: v for i, v in zip(_MMEW_ROWS, [40, 15, 46, 20, 25, 20, 23, 28, 32, 56, 32,
                                                             27, 22, 29, 31, 38])},
               f"{MEB}: 'Incorrect apex and offset', apex estimated")
    + row_errata("offset", {i + 2: v for i, v in zip(_MMEW_ROWS, [75, 54, 59, 98, 80, 93, 58, 61, 68, 88,
                                                                 80, 85, 61, 108, 72, 106])},
                 f"{MEB}: 'Incorrect apex and offset', offset estimated")
)

EMOTIONS = ("happiness", "surprise", "anger", "disgust", "fear", "sadness", "others")
CLASS_SETS.add(
    "mmew-7",
    ClassSet(
        name="mmew-7",
        classes=EMOTIONS,
        mapping={e: e for e in EMOTIONS} | {"other": "others", "happy": "happiness"},
        reference_counts={"happiness": 36, "surprise": 89, "anger": 8, "disgust": 72, "fear": 16,
                          "sadness": 13, "others": 66},
        reference_subjects=30,
        source="MMEW micro-expression counts as published by Ben et al. (TPAMI 2022): 300 clips, "
        "30 subjects",
    ),
    summary="MMEW 7 classes: every micro-expression emotion of the release",
)


def subject_name(value: object) -> str:
    """"S01" from 1, 1.0, "1", "s1" or "S01"."""
    number = as_int(as_text(value).lstrip("Ss"))
    return f"S{number:02d}" if number is not None else as_text(value)


def read_mmew(root: Path, errata: bool = True) -> DatasetIndex:
    """Read ``MMEW_Micro_Exp.xlsx`` and the emotion-grouped ``Micro_Expression`` folders (with or
    without a subject level above the emotion)."""
    sheet = find_file(root, ["MMEW_Micro_Exp*.xlsx"], "MMEW micro-expression sheet",
                      "copy MMEW_Micro_Exp.xlsx from the release next to Micro_Expression/")
    rows = read_sheet(sheet, COLUMNS, "MMEW")  # sheet problems first: they name the file
    frames_root = find_folder(root, ["Micro_Expression"], "MMEW Micro_Expression",
                              "unpack the release's Micro_Expression folder")
    builder = IndexBuilder("mmew", root, ERRATA, use_errata=errata)
    clip_names = {as_text(row.cells["clip"]) for row in rows}
    folders: dict[str, Path] = {}
    layouts = ("*/*", "*/*/*")  # <emotion>/<clip> or <subject>/<emotion>/<clip>
    for folder in sorted(p for pattern in layouts for p in frames_root.glob(pattern)
                         if p.name in clip_names and p.is_dir()):
        if folder.name in folders:
            builder.warn(f"clip folder {folder.name} is in two emotion folders: "
                         f"{folders[folder.name].parent.name} and {folder.parent.name}; using the first")
            continue
        folders[folder.name] = folder
    for row in rows:
        name, emotion = as_text(row.cells["clip"]), as_text(row.cells["emotion"])
        folder = folders.get(name)
        if folder is not None and normalize_label(folder.parent.name) != normalize_label(emotion):
            builder.warn(f"{row.where}: sheet says '{emotion}' but the frames are in "
                         f"{folder.parent.name}/; using the sheet's label")
        builder.add(
            row.where, subject_name(row.cells["subject"]), name, emotion,
            folder if folder is not None else frames_root / "<emotion>" / name,
            row.cells["onset"], row.cells["apex"], row.cells["offset"],
            action_units=as_text(row.cells["action_units"]), sheet_row=row.number,
        )
    return builder.build()


DATASETS.register(
    "mmew",
    citation=CITATION,
    summary="MMEW micro-expressions: 30 subjects, 300 clips at 90 fps (licence-restricted)",
    class_sets={"7": "mmew-7"},
    restricted=True,
    errata=ERRATA,
)(read_mmew)
