"""CAS(ME)^3 part A (Li et al., 2022): micro-expression sheet and ``<subject>/<clip>/color/``.

Part A annotates several micro-expressions inside one recorded video, so one subject's
sheet rows share a ``Filename``; each becomes its own clip named ``<Filename>_<onset>`` so
that they are kept apart (and never reported as duplicates of each other).
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
from benchmarks.records import ClassSet, DatasetIndex
from registry import CLASS_SETS, DATASETS

CITATION = (
    "Li, J., Dong, Z., Lu, S., Wang, S.-J., Yan, W.-J., Ma, Y., Liu, Y., Huang, C., Fu, X. "
    "CAS(ME)^3: A Third Generation Facial Spontaneous Micro-Expression Database with Depth "
    "Information and High Ecological Validity. IEEE TPAMI 45(3): 2782-2800, 2023."
)
SHEET_GLOBS = ("CAS(ME)3_part_A*.xlsx", "CAS(ME)^3_part_A*.xlsx", "*part_A*ME*.xlsx")
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "Onset",
    "apex": "Apex",
    "offset": "Offset",
    "action_units": "AU",
    "emotion": "emotion",
}
# Sourced corrections only (see casme2.ERRATA); MEB's data-frame index i is sheet row i + 2.
ERRATA: tuple[Erratum, ...] = (
    row_errata("apex", {130: 160, 752: 1}, MEB)
    + row_errata("onset", {751: 2647, 752: 1}, MEB)
    + row_errata("offset", {710: 34, 798: 1845, 800: 2403}, MEB)
)
SYNONYMS = {"happy": "happy", "happiness": "happy", "sad": "sad", "sadness": "sad",
            "disgust": "disgust", "fear": "fear", "anger": "anger", "angry": "anger",
            "surprise": "surprise", "others": "others", "other": "others"}
NEGATIVE = ("disgust", "fear", "anger", "sad")
_NOTE = "reference counts not recorded: not yet checked against the CAS(ME)^3 paper"

CLASS_SETS.add(
    "casme3-7",
    ClassSet(name="casme3-7",
             classes=("happy", "disgust", "fear", "anger", "sad", "surprise", "others"),
             mapping=SYNONYMS, source=f"Li et al. 2023, 7 emotions; {_NOTE}"),
    summary="CAS(ME)^3 part A, 7 classes: every emotion label",
)
CLASS_SETS.add(
    "casme3-4",
    ClassSet(name="casme3-4", classes=("negative", "positive", "surprise", "others"),
             mapping={raw: ("negative" if e in NEGATIVE else "positive" if e == "happy" else e)
                      for raw, e in SYNONYMS.items()},
             source=f"Li et al. 2023, 4 classes; {_NOTE}"),
    summary="CAS(ME)^3 part A, 4 classes: negative, positive, surprise, others",
)
CLASS_SETS.add(
    "casme3-3",
    ClassSet(name="casme3-3", classes=("negative", "positive", "surprise"),
             mapping={raw: ("negative" if e in NEGATIVE else "positive" if e == "happy" else e)
                      for raw, e in SYNONYMS.items() if e != "others"},
             excluded=("others", "other"),
             source=f"Li et al. 2023, 3 classes; {_NOTE}"),
    summary="CAS(ME)^3 part A, 3 classes: negative, positive, surprise",
)


def read_casme3(root: Path, errata: bool = True) -> DatasetIndex:
    """Read the part A micro-expression sheet and ``<subject>/<clip>/color/`` frames."""
    sheet = find_file(root, SHEET_GLOBS, "CAS(ME)^3 part A label sheet",
                      "copy the part A ME label sheet from the release next to the frames")
    rows = read_sheet(sheet, COLUMNS, "CAS(ME)^3 part A")  # sheet problems first: they name the file
    frames_root = find_folder(root, ("part_A", "data/part_A", "."), "CAS(ME)^3 part A",
                              "unpack part A so that <subject>/<clip>/color/ exists")
    builder = IndexBuilder("casme3", root, ERRATA, use_errata=errata)
    for row in rows:
        subject, video = as_text(row.cells["subject"]), as_text(row.cells["clip"])
        if not subject or not video:
            builder.exclude(row.where, f"subject {subject!r} or filename {video!r} missing")
            continue
        onset = as_int(row.cells["onset"])
        clip = f"{video}_{onset}" if onset is not None else f"{video}_{row.where.rsplit(' ', 1)[-1]}"
        builder.add(
            row.where, subject, clip, as_text(row.cells["emotion"]),
            frames_root / subject / video / "color",
            row.cells["onset"], row.cells["apex"], row.cells["offset"],
            action_units=as_text(row.cells["action_units"]), sheet_row=row.number,
        )
    return builder.build()


DATASETS.register(
    "casme3",
    citation=CITATION,
    summary="CAS(ME)^3 part A micro-expressions, 30 fps RGB (licence-restricted)",
    class_sets={"7": "casme3-7", "4": "casme3-4", "3": "casme3-3"},
    restricted=True,
    errata=ERRATA,
)(read_casme3)
