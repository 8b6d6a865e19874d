"""``megc2019-flow``: the MEGC 2019 composite as STSTNet released it, as flow images.

STSTNet (Liong et al., FG 2019) released one 28x28 image per clip of the composite's 442:
TV-L1 optical flow from onset to apex (horizontal u, vertical v) and its optical strain,
each channel min-max scaled per image. HTNet (Wang et al., 2023) reuses the same images.
There are no frames, so this dataset provides flow and strain at 28 px only; a model that
reads frames, or another size, fails when the run is planned.

Layouts, detected from what is on disk:
- ``STSNet_whole_norm_u_v_os/<sub>_<filename_o> .png``: all 442 images in one folder (the
  space before ``.png`` is in the released names);
- ``three_norm_u_v_os/<sub>/u_test/<label>/<same name>`` (HTNet's copy; ``norm_u_v_os`` in
  STSTNet's ``main.py``): arranged for LOSO, each subject's ``u_test`` holds its own clips
  (``u_train`` holds everyone else's and is not read).
plus the sheet ``combined_3_class2_for_optical_flow.csv`` (HTNet's repository) with columns
``dataset, sub, filename_o, label, apex, imagename, sub_filename``; ``label`` 0 negative,
1 positive, 2 surprise; ``dataset`` smic, casme2 or samm.

Channels are used in the order ``cv2.imread`` returns them, as STSTNet's and HTNet's Python
code read them: 0 = u, 1 = v, 2 = strain. (STSTNet's README says its inputs were made in
MATLAB; had they been written from ``cat(3, u, v, os)`` by MATLAB's ``imwrite``, that order
would be reversed. No released image was available here to check.)

Subjects are prefixed with their part as in ``megc2019`` (``casme2-sub01``, ``smic-s01``,
``samm-006``), so LOSO runs over the 68 subjects and results carry per-part metrics.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from benchmarks.datasets._tables import find_file, find_folder
from benchmarks.datasets.megc2019 import LABELS, PARTS, official_names, part_of
from benchmarks.preprocess import PreprocessConfig
from benchmarks.records import Clip, DatasetIndex, ProvidedInputs
from registry import DATASETS
from registry.errors import ConfigError, DataError

CITATION = (
    "Liong, S.-T., Gan, Y.S., See, J., Khor, H.-Q., Huang, Y.-C. Shallow Triple Stream "
    "Three-dimensional CNN (STSTNet) for Micro-expression Recognition. IEEE FG 2019; inputs "
    "released at github.com/christy1206/STSTNet and github.com/wangzhifengharrison/HTNet."
)
SHEET = "combined_3_class2_for_optical_flow.csv"
COLUMNS = ("dataset", "sub", "filename_o", "label")
WHOLE_FOLDER = "STSNet_whole_norm_u_v_os"
PER_SUBJECT_FOLDERS = ("three_norm_u_v_os", "norm_u_v_os")
SIZE = 28


def image_name(sub: str, filename: str) -> str:
    return f"{sub}_{filename} .png"


def read_sheet(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(where, cells) of every data row; ``where`` is ``<sheet> row N`` as a spreadsheet numbers it."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)} (found: "
                            f"{', '.join(reader.fieldnames or [])}); use the sheet from HTNet's repository")
        return [(f"{path.name} row {number}", {k: (row[k] or "").strip() for k in COLUMNS})
                for number, row in enumerate(reader, start=2) if any((v or "").strip() for v in row.values())]


def locate_image(folder: Path, per_subject: bool, sub: str, filename: str, label: int, where: str) -> Path:
    """The image of one sheet row; a DataError naming the file and the row if it is not there."""
    name = image_name(sub, filename)
    path = folder / sub / "u_test" / str(label) / name if per_subject else folder / name
    if path.is_file():
        return path
    if per_subject:
        elsewhere = sorted((folder / sub / "u_test").glob(f"*/{name}"))
        if elsewhere:
            raise DataError(f"{where}: label {label} but its image is {elsewhere[0]}; the sheet and "
                            "the folders disagree, re-copy both from the same release")
    raise DataError(f"{where}: image {path} not found; re-copy the released images")


def read_megc2019_flow(root: Path) -> DatasetIndex:
    """Read STSTNet's released MEGC 2019 flow images and their sheet under ``root``."""
    sheet = find_file(root, [SHEET], "MEGC 2019 flow sheet",
                      "copy it from the root of github.com/wangzhifengharrison/HTNet")
    rows = read_sheet(sheet)
    folder = find_folder(root, (WHOLE_FOLDER, *PER_SUBJECT_FOLDERS), "STSTNet flow image",
                         "unpack STSTNet's released images (or HTNet's datasets/ copy) next to the sheet")
    per_subject = folder.name in PER_SUBJECT_FOLDERS
    clips, seen, warnings = [], {}, []
    for where, cells in rows:
        part, sub, filename = cells["dataset"].lower(), cells["sub"], cells["filename_o"]
        if part not in PARTS:
            raise DataError(f"{where}: dataset '{cells['dataset']}' is not one of {', '.join(PARTS)}")
        if part == "samm" and sub.isdigit():
            sub = sub.zfill(3)  # a spreadsheet program turns SAMM's "006" into 6
        if cells["label"] not in ("0", "1", "2"):
            raise DataError(f"{where}: label '{cells['label']}' is not 0, 1 or 2 "
                            f"({', '.join(f'{i} {n}' for i, n in enumerate(LABELS))})")
        name = f"{sub}_{filename}"
        if name in seen:
            raise DataError(f"{where}: {name} is listed twice (first at {seen[name]}); fix the sheet")
        seen[name] = where
        label = int(cells["label"])
        path = locate_image(folder, per_subject, sub, filename, label, where)
        clips.append(Clip(dataset="megc2019-flow", subject=f"{part}-{sub}", clip=filename,
                          emotion=LABELS[label], onset=0, apex=0, offset=0, frames={0: path},
                          source_row=where))
    official = official_names()
    extra = sorted(set(seen) - set(official))
    absent = [n for n in official if n not in seen]
    if extra or absent:
        warnings.append(f"{sheet.name} differs from the official 442-clip list: "
                        f"{len(extra)} extra ({', '.join(extra[:5])}), {len(absent)} absent "
                        f"({', '.join(absent[:5])})")
    if not clips:
        raise DataError(f"{sheet}: no rows; use the sheet from HTNet's repository")
    return DatasetIndex("megc2019-flow", root, tuple(clips), (), tuple(warnings), released=True)


def read_released_clip(clip: Clip, config: PreprocessConfig) -> dict[str, np.ndarray]:
    """The cache's tensors of one clip: flow (u, v) and strain in [0, 1], as released."""
    if config.size != SIZE:
        raise ConfigError(f"megc2019-flow is released at {SIZE} px only; prepare it at size {SIZE}, "
                          f"not {config.size}")
    path = clip.frame(0)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{clip.source_row}: cannot read image {path}; re-copy the released images")
    if image.shape != (SIZE, SIZE, 3):
        raise DataError(f"{clip.source_row}: image {path} is {image.shape[1]}x{image.shape[0]}, "
                        f"the released images are {SIZE}x{SIZE}; re-copy it")
    channels = image.transpose(2, 0, 1).astype(np.float32) / 255
    return {"flow": channels[:2], "strain": channels[2:], "face_found": np.array(1, dtype=np.uint8)}


DATASETS.register(
    "megc2019-flow",
    citation=CITATION,
    summary="MEGC 2019 composite as STSTNet's released 28 px flow images (u, v, strain): 68 subjects, "
    "442 clips, 3 classes",
    class_sets={"3": "megc2019-3"},
    restricted=True,
    part_of=part_of,
    benchmark="megc2019",  # the same clips, classes and protocol as megc2019, as released flow images
    provides=ProvidedInputs(keys=("flow", "strain"), size=SIZE, flow="tvl1", scaling="minmax",
                            prepare_clip=read_released_clip),
    # the released flow is min-max scaled per image, so its zero is lost: mirroring (which
    # negates u) and rotating the vectors would make inputs the test clips never show
    budget={"augment": "none"},
)(read_megc2019_flow)
