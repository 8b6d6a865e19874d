"""DFEW (Jiang et al., 2020): in-the-wild movie clips, for pre-training.

Layout of the release: ``Clip/clip_224x224/<00001>/<00001>_<00001>.jpg`` (one folder of
224x224 face frames per clip) and the label/split lists
``EmoLabel_DataSplit/{train,test}(single-labeled)/set_<1-5>.csv`` (columns ``video_name``,
``label``; labels 1-7: happy, sad, neutral, angry, surprise, disgust, fear). Every clip
folder is read; a clip's emotion comes from set 1's train and test lists (the five sets
re-split the same single-labelled clips), and is empty for the multi-labelled ones.

DFEW annotates no onset or apex: a clip is an expression from start to end, so each clip is
read as onset = its first frame and apex = offset = its last, and pre-training pairs come
from the whole clip. The entry says so (``pairs_from``) and so does every reading (a
warning). Clips have no identity annotation: each clip is its own subject, and no subject
is a micro dataset's.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.datasets._tables import IndexBuilder, as_int, find_folder, list_frames
from benchmarks.records import DatasetIndex
from registry import MACRO

CITATION = (
    "Jiang, X., Zong, Y., Zheng, W., Tang, C., Xia, W., Lu, C., Liu, J. DFEW: A Large-Scale "
    "Database for Recognizing Dynamic Facial Expressions in the Wild. ACM Multimedia 2020."
)
LABELS = {1: "happy", 2: "sad", 3: "neutral", 4: "angry", 5: "surprise", 6: "disgust", 7: "fear"}
SPLITS = ("train(single-labeled)/set_1.csv", "test(single-labeled)/set_1.csv")
WHOLE_CLIP = "whole clip: DFEW annotates no onset/apex (onset = first frame, apex = last)"


def read_labels(split_dir: Path, builder: IndexBuilder) -> dict[str, str]:
    """Clip folder name -> emotion, from set 1's train and test lists."""
    labels: dict[str, str] = {}
    for name in SPLITS:
        path = split_dir / name
        if not path.is_file():
            builder.warn(f"{path} not found: clips it lists are read without an emotion")
            continue
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                clip, code = as_int(row.get("video_name")), as_int(row.get("label"))
                if clip is None or code not in LABELS:
                    builder.exclude(f"{path} line {line}", f"video_name {row.get('video_name')!r} / label "
                                    f"{row.get('label')!r} unusable (expected a clip number and 1-7)")
                    continue
                labels[f"{clip:05d}"] = LABELS[code]
    return labels


def read_dfew(root: Path) -> DatasetIndex:
    """Every DFEW clip as one onset -> apex segment over its whole length."""
    root = Path(root)
    clips = find_folder(root, ("Clip/clip_224x224",), "DFEW clip",
                        "point --data-root at the DFEW release, which holds Clip/clip_224x224/")
    builder = IndexBuilder("dfew", root, labelled=False)
    builder.warn(f"DFEW pairs come from the {WHOLE_CLIP}")
    labels = read_labels(root / "EmoLabel_DataSplit", builder)
    for folder in sorted(p for p in clips.iterdir() if p.is_dir()):
        emotion, frames = labels.pop(folder.name, ""), list_frames(folder)
        if len(frames) < 2:
            builder.exclude(str(folder), f"{len(frames)} frame(s); a clip needs two")
            continue
        first, last = min(frames), max(frames)
        builder.add(str(folder), folder.name, folder.name, emotion, folder, first, last, last)
    for clip in sorted(labels):
        builder.exclude(f"EmoLabel_DataSplit clip {clip}", f"no folder {clips / clip}")
    return builder.build()


MACRO.register(
    "dfew",
    summary="DFEW: 16,372 in-the-wild movie clips (7 emotions); pairs from whole clips",
    citation=CITATION,
    layout="Clip/clip_224x224/<00001>/<00001>_<00001>.jpg + EmoLabel_DataSplit/",
    restricted=True,
    pairs_from=WHOLE_CLIP,
    same_subjects_as=(),
)(read_dfew)
