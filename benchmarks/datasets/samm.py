"""SAMM (Davison et al., 2018): reader for the FACS codes sheet and the frame folders.

The sheet (``SAMM_Micro_FACS_Codes_v2.xlsx`` in the release) has a block of descriptive rows
above its header, so the header row is found by its content. Frames:
``SAMM/<subject>/<clip>/<subject>_<zero-padded frame>.jpg``; the sheet's integer subject 6 is
folder ``006``. Emotions are capitalised ("Anger", "Other"/"Others"); some AU cells list
alternatives with "or" and are kept as written.
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
    "Davison, A. K., Lansley, C., Costen, N., Tan, K., Yap, M. H. SAMM: A Spontaneous "
    "Micro-Facial Movement Dataset. IEEE Transactions on Affective Computing 9(1): 116-129, 2018."
)
SHEET_GLOBS = ("SAMM_Micro_FACS_Codes*.xlsx", "*FACS*Codes*.xlsx")
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "Onset Frame",
    "apex": "Apex Frame",
    "offset": "Offset Frame",
    "action_units": "Action Units",
    "emotion": "Estimated Emotion",
}
# Sourced corrections only (see casme2.ERRATA for the policy). MEB reads SAMM with pandas'
# default header, takes its row 12 as the header, so its data index i is sheet row i + 15.
ERRATA: tuple[Erratum, ...] = (
    row_errata("offset", {71: 5739}, f"{MEB}: 'Mistake in file, change offset'")
    + row_errata("apex", {140: 1105, 147: 4945, 148: 5130},
                 f"{MEB}: missing apex estimated from optical flow")
)

CLASS_SETS.add(
    "samm-5",
    ClassSet(
        name="samm-5",
        classes=("anger", "happiness", "contempt", "surprise", "other"),
        mapping={"anger": "anger", "happiness": "happiness", "contempt": "contempt",
                 "surprise": "surprise", "other": "other", "others": "other"},
        excluded=("disgust", "fear", "sadness"),
        reference_counts={"anger": 57, "happiness": 26, "contempt": 12, "surprise": 15, "other": 26},
        source="5-class SAMM split of Davison et al. 2018 / MMNet (Li et al., IJCAI 2022): 136 clips",
    ),
    summary="SAMM 5 classes: anger, happiness, contempt, surprise, other",
)
CLASS_SETS.add(
    "samm-3",
    ClassSet(
        name="samm-3",
        classes=("negative", "positive", "surprise"),
        mapping={e: "negative" for e in ("anger", "contempt", "disgust", "fear", "sadness")}
        | {"happiness": "positive", "surprise": "surprise"},
        excluded=("other", "others"),
        reference_counts={"negative": 92, "positive": 26, "surprise": 15},
        reference_subjects=28,
        source="MEGC 2019 composite, SAMM part (See et al., FG 2019): 133 clips, 28 subjects",
    ),
    summary="SAMM 3 classes (MEGC 2019): negative, positive, surprise",
)


def read_samm(root: Path, errata: bool = True) -> DatasetIndex:
    """Read the SAMM FACS codes sheet and ``SAMM/<subject>/<clip>/`` frame folders."""
    sheet = find_file(root, SHEET_GLOBS, "SAMM FACS codes sheet",
                      "copy SAMM_Micro_FACS_Codes_v2.xlsx from the release next to the SAMM folder")
    rows = read_sheet(sheet, COLUMNS, "SAMM")  # sheet problems first: they name the file
    frames_root = find_folder(root, ("SAMM", "."), "SAMM frame", "unpack the release's frames")
    builder = IndexBuilder("samm", root, ERRATA, use_errata=errata)
    for row in rows:
        subject, name = as_int(row.cells["subject"]), as_text(row.cells["clip"])
        if subject is None or not name:
            builder.exclude(row.where, f"subject {row.cells['subject']!r} or filename {name!r} unusable")
            continue
        builder.add(
            row.where, f"{subject:03d}", name, as_text(row.cells["emotion"]),
            frames_root / f"{subject:03d}" / name,
            row.cells["onset"], row.cells["apex"], row.cells["offset"],
            action_units=as_text(row.cells["action_units"]), sheet_row=row.number,
        )
    return builder.build()


DATASETS.register(
    "samm",
    citation=CITATION,
    summary="SAMM: 32 subjects, 159 micro-movements at 200 fps (licence-restricted)",
    class_sets={"5": "samm-5", "3": "samm-3"},
    restricted=True,
    errata=ERRATA,
)(read_samm)
