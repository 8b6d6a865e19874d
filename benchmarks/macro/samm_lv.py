"""SAMM long videos (MEGC spotting release): the macro-expression intervals, for pre-training.

Layout of the release: ``SAMM_LongVideos_V2_Release.xlsx`` (sheet ``FACS_Movement_Only``:
descriptive rows, then a header with Subject, Filename, Onset, Apex, Offset, Type, Action
Units, ...) and ``SAMM_longvideos/<006_1>/<006_1>_<0001>.jpg``, one folder per long video.
A row's Filename ``006_1_3`` is interval 3 of video ``006_1``; rows whose Type is "Macro"
are kept, micro rows are SAMM's micro-expressions and left out. The release codes an
unannotated onset as 0: such rows are left out (pre-training needs onset -> apex). Subject
ids are the SAMM reader's (``006``): the same people as ``samm``.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.datasets._tables import IndexBuilder, as_int, as_text, find_file, find_folder, read_sheet
from benchmarks.records import DatasetIndex
from registry import MACRO

CITATION = (
    "Yap, C. H., Kendrick, C., Yap, M. H. SAMM Long Videos: A Spontaneous Facial Micro- and "
    "Macro-Expressions Dataset. FG 2020."
)
SHEET_GLOBS = ("SAMM_LongVideos*.xlsx",)
COLUMNS = {
    "subject": "Subject",
    "clip": "Filename",
    "onset": "Onset",
    "apex": "Apex",
    "offset": "Offset",
    "type": "Type",
    "action_units": "Action Units",
}
FRAMES = "SAMM_longvideos"


def read_samm_lv(root: Path) -> DatasetIndex:
    """Macro intervals of the SAMM long videos: one clip per "Macro" row, onset -> apex -> offset."""
    root = Path(root)
    sheet = find_file(root, SHEET_GLOBS, "SAMM long videos sheet",
                      "copy SAMM_LongVideos_V2_Release.xlsx from the release next to SAMM_longvideos/")
    rows = read_sheet(sheet, COLUMNS, "SAMM long videos")
    videos = find_folder(root, (FRAMES,), "SAMM long video frame", f"unpack the release's {FRAMES}/")
    builder = IndexBuilder("samm-lv", root, labelled=False)
    for row in rows:
        if not as_text(row.cells["type"]).lower().startswith("macro"):
            continue
        subject, name = as_int(row.cells["subject"]), as_text(row.cells["clip"])
        if subject is None or name.count("_") < 2:
            builder.exclude(row.where, f"subject {row.cells['subject']!r} or filename {name!r} unusable "
                            "(expected e.g. 6 and 006_1_3)")
            continue
        if as_int(row.cells["onset"]) == 0:
            builder.exclude(row.where, "onset 0 (not annotated); pre-training needs onset -> apex")
            continue
        builder.add(
            row.where, f"{subject:03d}", name, "", videos / name.rsplit("_", 1)[0],
            row.cells["onset"], row.cells["apex"], row.cells["offset"],
            action_units=as_text(row.cells["action_units"]),
        )
    return builder.build()


MACRO.register(
    "samm-lv",
    summary="SAMM long videos: macro-expression intervals (32 subjects, 147 videos at 200 fps)",
    citation=CITATION,
    layout="SAMM_LongVideos_V2_Release.xlsx + SAMM_longvideos/<006_1>/<006_1>_<nnnn>.jpg",
    restricted=True,
    same_subjects_as=("samm",),
)(read_samm_lv)
