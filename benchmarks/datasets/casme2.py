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

import pandas as pd

from benchmarks.records import ClassSet, Clip, DatasetIndex, Excluded
from registry import CLASS_SETS, DATASETS
from registry.errors import DataError

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
FRAME_FILE = re.compile(r"^(?:reg_)?img(\d+)\.(?:jpg|jpeg|png|bmp)$", re.IGNORECASE)

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


def find_sheet(root: Path) -> Path:
    sheets = sorted(root.glob(SHEET_GLOB)) + sorted(root.glob(f"*/{SHEET_GLOB}"))
    if not sheets:
        raise DataError(
            f"no CASME II coding sheet ({SHEET_GLOB}) in {root} or its subfolders; "
            "copy the sheet from the CASME II release next to the frame folders"
        )
    return sheets[0]


def read_sheet(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_excel(path, dtype=object)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise DataError(f"cannot read {path}: {exc}; re-copy the sheet from the release") from exc
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in COLUMNS.values() if c not in table.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(c for c in table.columns if not c.startswith('Unnamed'))}); "
            "use the official CASME II coding sheet"
        )
    return table


def find_frames_root(root: Path) -> Path:
    for name in FRAME_FOLDERS:
        for candidate in (root / name, root.parent / name):
            if candidate.is_dir():
                return candidate
    raise DataError(
        f"no CASME II frame folder ({' or '.join(FRAME_FOLDERS)}) in {root}; "
        "unpack the release's frames next to the coding sheet"
    )


def subject_folder(frames_root: Path, subject: int) -> Path | None:
    for name in (f"sub{subject:02d}", f"sub{subject}", str(subject), f"{subject:02d}"):
        if (frames_root / name).is_dir():
            return frames_root / name
    return None


def list_frames(folder: Path) -> dict[int, Path]:
    frames = {}
    for path in folder.iterdir():
        match = FRAME_FILE.match(path.name)
        if match:
            frames[int(match.group(1))] = path
    return frames


def as_frame_number(value: object) -> int | None:
    """Integer frame number of a sheet cell, ``None`` for blanks and text such as '/'."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def read_casme2(root: Path, dataset: str = "casme2") -> DatasetIndex:
    """Read the CASME II coding sheet and frame folders under ``root``."""
    sheet = find_sheet(root)
    table = read_sheet(sheet)
    frames_root = find_frames_root(root)
    clips: list[Clip] = []
    excluded: list[Excluded] = []
    warnings: list[str] = []
    for index, row in table.iterrows():
        where = f"{sheet.name} row {int(index) + 2}"  # +1 header, +1 one-based
        subject = as_frame_number(row[COLUMNS["subject"]])
        name = str(row[COLUMNS["clip"]]).strip()
        onset = as_frame_number(row[COLUMNS["onset"]])
        offset = as_frame_number(row[COLUMNS["offset"]])
        apex = as_frame_number(row[COLUMNS["apex"]])
        emotion = str(row[COLUMNS["emotion"]]).strip()
        if subject is None or onset is None or offset is None:
            excluded.append(Excluded(where, "subject, onset or offset is not a number"))
            continue
        folder = subject_folder(frames_root, subject)
        clip_dir = folder / name if folder is not None else None
        if clip_dir is None or not clip_dir.is_dir():
            excluded.append(Excluded(where, f"no frame folder for sub{subject:02d}/{name}"))
            continue
        apex_imputed = apex is None
        if apex_imputed:
            apex = (onset + offset) // 2
            warnings.append(f"{where}: apex '{row[COLUMNS['apex']]}' is not a frame; using {apex}")
        if not onset <= apex <= offset:
            excluded.append(Excluded(where, f"frames out of order: {onset}/{apex}/{offset}"))
            continue
        frames = list_frames(clip_dir)
        missing = [n for n in (onset, apex) if n not in frames]
        if missing:
            excluded.append(Excluded(where, f"frame(s) {missing} missing in {clip_dir}"))
            continue
        clips.append(
            Clip(
                dataset=dataset,
                subject=f"sub{subject:02d}",
                clip=name,
                emotion=emotion,
                onset=onset,
                apex=apex,
                offset=offset,
                frames=frames,
                action_units=str(row[COLUMNS["action_units"]]).strip(),
                apex_imputed=apex_imputed,
                source_row=where,
            )
        )
    if not clips:
        raise DataError(f"{sheet}: no usable clip (first problems: {excluded[:3]})")
    return DatasetIndex(dataset, root, tuple(clips), tuple(excluded), tuple(warnings))


DATASETS.register(
    "casme2",
    citation=CITATION,
    summary="CASME II: 26 subjects, 255 clips at 200 fps (licence-restricted)",
    class_sets={"5": "casme2-5", "3": "casme2-3"},
    restricted=True,
)(read_casme2)
