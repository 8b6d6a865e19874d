"""CAS(ME)^2 (Qu et al., 2018): the macro-expression intervals of its long videos, for pre-training.

Layout of the release: the coding sheet ``CAS(ME)^2code_final.xlsx`` (also distributed as
``CAS(ME)2code_final.xlsx`` or ``code_final.xlsx``) and ``rawpic/s15/15_0101disgustingteeth/
img<n>.jpg``, one folder per long video. The sheet's first page has no header row; its
columns are, in order: participant number (1-22), expression name (``<video><k>_<n>``, e.g.
``disgust1_3``), onset, apex, offset, action units, emotion, expression type
("macro-expression" / "micro-expression"), self-report. Macro rows are kept. The participant
number and the expression name's video (``disgust1``) lead to the folder by the release's
naming pages, reproduced in ``PARTICIPANTS`` and ``VIDEOS``. The release codes an unannotated
offset as 0; pre-training uses onset -> apex, so such a row is kept with offset = apex.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.datasets._tables import IndexBuilder, as_int, as_text, find_file, find_folder
from benchmarks.records import DatasetIndex
from registry import MACRO
from registry.errors import DataError

CITATION = (
    "Qu, F., Wang, S.-J., Yan, W.-J., Li, H., Wu, S., Fu, X. CAS(ME)^2: A Database for "
    "Spontaneous Macro-Expression and Micro-Expression Spotting and Recognition. IEEE "
    "Transactions on Affective Computing 9(4): 424-436, 2018."
)
SHEET_GLOBS = ("CAS(ME)^2code_final*.xlsx", "CAS(ME)2code_final*.xlsx", "*code_final*.xlsx")
COLUMNS = ("participant", "name", "onset", "apex", "offset", "action_units", "emotion", "type")
# The release's naming pages: participant number -> subject folder, video -> video code.
PARTICIPANTS = dict(zip(range(1, 23), (15, 16, 19, 20, 21, 22, 23, 24, 25, 26, 27, 29, 30, 31, 32,
                                       33, 34, 35, 36, 37, 38, 40)))
VIDEOS = {"disgust1": "0101", "disgust2": "0102", "anger1": "0401", "anger2": "0402",
          "happy1": "0502", "happy2": "0503", "happy3": "0505", "happy4": "0507", "happy5": "0508"}


def read_casme_sq(root: Path) -> DatasetIndex:
    """Macro-expression rows of the CAS(ME)^2 coding sheet, on the long videos' frames."""
    root = Path(root)
    sheet = find_file(root, SHEET_GLOBS, "CAS(ME)^2 coding sheet",
                      "copy CAS(ME)^2code_final.xlsx from the release next to rawpic/")
    table = pd.read_excel(sheet, header=None, dtype=object)
    types = {as_text(v).lower() for v in table.iloc[:, len(COLUMNS) - 1]} if table.shape[1] >= len(COLUMNS) else set()
    if not types & {"macro-expression", "micro-expression"}:
        raise DataError(
            f"{sheet}: no expression-type column (column {len(COLUMNS)}: macro-expression / "
            "micro-expression); use the release's coding sheet, whose first page has no header row"
        )
    frames = find_folder(root, ("rawpic",), "CAS(ME)^2 frame", "unpack the release's rawpic/ folder")
    builder = IndexBuilder("casme-sq", root, labelled=False)
    for number, values in enumerate(table.itertuples(index=False), start=1):
        row = dict(zip(COLUMNS, values))
        where = f"{sheet.name} row {number}"
        if as_text(row["type"]).lower() != "macro-expression":
            continue
        participant, name = as_int(row["participant"]), as_text(row["name"])
        video = name.rsplit("_", 1)[0]
        if participant not in PARTICIPANTS or video not in VIDEOS:
            builder.exclude(where, f"participant {row['participant']!r} or expression {name!r} unknown "
                            f"(participants 1-22; videos {', '.join(VIDEOS)})")
            continue
        subject = f"s{PARTICIPANTS[participant]}"
        folders = sorted((frames / subject).glob(f"*_{VIDEOS[video]}*"))
        offset = row["offset"]
        if as_int(offset) == 0:
            builder.warn(f"{where}: offset 0 (not annotated); using the apex frame")
            offset = row["apex"]
        builder.add(
            where, subject, name, as_text(row["emotion"]),
            folders[0] if folders else frames / subject / f"*_{VIDEOS[video]}*",
            row["onset"], row["apex"], offset, action_units=as_text(row["action_units"]),
        )
    return builder.build()


MACRO.register(
    "casme-sq",
    summary="CAS(ME)^2 long videos: macro-expression intervals (22 participants, 87 videos)",
    citation=CITATION,
    layout="CAS(ME)^2code_final.xlsx + rawpic/s15/15_0101disgustingteeth/img<n>.jpg",
    restricted=True,
    # CAS(ME)^2 participants (s15-s40) are not known to be any registered micro dataset's
    same_subjects_as=(),
)(read_casme_sq)
