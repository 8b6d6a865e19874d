"""SMIC (Li et al., 2013): HS, and VIS/NIR where present; the label is the folder.

Layout: ``[SMIC_all_raw/]<HS|VIS|NIR>/<subject>/micro/<positive|negative|surprise>/<clip>/``
with no sheet. Each clip folder holds just the micro-expression, so its first and last
frames are onset and offset. SMIC has no apex annotation: the apex is the middle frame of
every clip (``apex_imputed``), and the index says so in a warning.
Subjects and clip names are zero-padded (``s1`` -> ``s01``, ``s1_ne_01`` -> ``s01_ne_01``)
as in the MEGC 2019 composite list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks.datasets._tables import IndexBuilder, find_folder
from benchmarks.records import ClassSet, DatasetIndex, natural_key
from registry import CLASS_SETS, DATASETS

CITATION = (
    "Li, X., Pfister, T., Huang, X., Zhao, G., Pietikainen, M. A Spontaneous Micro-expression "
    "Database: Inducement, Collection and Baseline. IEEE FG 2013."
)
LABELS = ("negative", "positive", "surprise")
SUBJECT = re.compile(r"^s(\d+)", re.IGNORECASE)

SMIC_3 = ClassSet(
    name="smic-hs-3",
    classes=LABELS,
    mapping={label: label for label in LABELS},
    reference_counts={"negative": 70, "positive": 51, "surprise": 43},
    reference_subjects=16,
    source="Li et al. 2013 (SMIC-HS: 164 clips, 16 subjects); per-class counts as in the MEGC "
    "2019 composite list (70/51/43)",
)
CLASS_SETS.add("smic-hs-3", SMIC_3, summary="SMIC-HS 3 classes: negative, positive, surprise")
for _modality in ("vis", "nir"):
    CLASS_SETS.add(
        f"smic-{_modality}-3",
        replace(SMIC_3, name=f"smic-{_modality}-3", reference_counts={}, reference_subjects=8,
                source=f"Li et al. 2013 (SMIC-{_modality.upper()}: 71 clips, 8 subjects)"),
        summary=f"SMIC-{_modality.upper()} 3 classes: negative, positive, surprise",
    )


def padded(name: str) -> str:
    """``s1_ne_01`` -> ``s01_ne_01``; names without a subject prefix are kept."""
    return SUBJECT.sub(lambda m: f"s{int(m.group(1)):02d}", name, count=1)


def read_smic(root: Path, modality: str = "HS") -> DatasetIndex:
    """Read one SMIC modality from its ``<subject>/micro/<label>/<clip>/`` folders."""
    data = find_folder(root, (modality, f"SMIC_all_raw/{modality}", "."), f"SMIC {modality}",
                       f"unpack SMIC so that {modality}/s1/micro/ exists under {root}")
    builder = IndexBuilder(f"smic-{modality.lower()}", root)
    subjects = sorted((p for p in data.iterdir() if p.is_dir() and SUBJECT.match(p.name)),
                      key=lambda p: natural_key(p.name))
    for subject_dir in subjects:
        clips = sorted(p for p in subject_dir.glob("micro/*/*") if p.is_dir())
        if not clips:
            builder.warn(f"{subject_dir}: no clip folders under micro/<label>/; subject left out")
        for clip_dir in clips:
            builder.add(
                str(clip_dir.relative_to(data)), padded(subject_dir.name), padded(clip_dir.name),
                clip_dir.parent.name, clip_dir, whole_clip=True,
            )
    builder.warn(f"SMIC has no apex annotation: the apex of all {len(builder.clips)} clips "
                 "is their middle frame")
    return builder.build()


def _register(modality: str, summary: str) -> Callable[[Path], DatasetIndex]:
    def read(root: Path, errata: bool = True) -> DatasetIndex:
        return read_smic(root, modality)

    read.__doc__ = f"Read SMIC-{modality} (no errata are known for SMIC)."
    DATASETS.add(f"smic-{modality.lower()}", read, citation=CITATION, summary=summary,
                 class_sets={"3": f"smic-{modality.lower()}-3"}, restricted=True, errata=())
    return read


read_smic_hs = _register("HS", "SMIC-HS: 16 subjects, 164 clips at 100 fps (licence-restricted)")
read_smic_vis = _register("VIS", "SMIC-VIS: 8 subjects, 71 clips at 25 fps (licence-restricted)")
read_smic_nir = _register("NIR", "SMIC-NIR: 8 subjects, 71 clips at 25 fps (licence-restricted)")
