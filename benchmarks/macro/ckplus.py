"""CK+ (Extended Cohn-Kanade): posed sequences from neutral (first frame) to apex (last).

Layout of the release: ``cohn-kanade-images/S005/001/S005_001_00000001.png``; optional
labels ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (a code 0-7).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.datasets._tables import list_frames
from benchmarks.records import Clip, DatasetIndex
from registry import MACRO
from registry.errors import DataError

EMOTION_CODES = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happiness",
    6: "sadness",
    7: "surprise",
}
IMAGES = "cohn-kanade-images"


def read_ckplus(root: Path) -> DatasetIndex:
    """CK+ sequences: onset = first (neutral) frame, apex = last frame."""
    images = Path(root) / IMAGES
    if not images.is_dir():
        raise DataError(
            f"CK+: no {IMAGES}/ folder in {root}; point --data-root at the folder "
            f"of the CK+ release that holds {IMAGES}/ and Emotion/"
        )
    clips = []
    for folder in sorted(p for p in images.glob("S*/*") if p.is_dir()):
        frames = list_frames(folder)
        if len(frames) < 2:
            continue  # the release has a few stray single-image folders
        subject, sequence = folder.parent.name, folder.name
        label = sorted((Path(root) / "Emotion" / subject / sequence).glob("*_emotion.txt"))
        emotion = EMOTION_CODES.get(int(float(label[0].read_text().split()[0]))) if label else ""
        clips.append(
            Clip(
                dataset="ck+",
                subject=subject,
                clip=sequence,
                emotion=emotion or "",
                onset=min(frames),
                apex=max(frames),
                offset=max(frames),
                frames=frames,
                source_row=str(folder),
            )
        )
    if not clips:
        raise DataError(f"CK+: no sequence folders {IMAGES}/S*/<nnn>/ with frames in {root}")
    return DatasetIndex("ck+", Path(root), tuple(clips))


MACRO.register(
    "ck+",
    summary="CK+ posed expression sequences, neutral -> apex (123 subjects, 593 sequences)",
    citation="Lucey, P. et al. The Extended Cohn-Kanade Dataset (CK+). CVPR Workshops 2010.",
    layout="cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_zzzzzzzz.png [+ Emotion/]",
    restricted=True,
    same_subjects_as=(),
)(read_ckplus)
