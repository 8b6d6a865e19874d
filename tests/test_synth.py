"""The synthetic dataset: written in CASME II's format, read by the CASME II reader."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from benchmarks.datasets import class_set_for
from benchmarks.synthetic import (
    ACTION_UNITS,
    LANDMARKS,
    FaceSource,
    SynthConfig,
    displacement_field,
    generate_clips,
    intensity_profile,
)

SMALL = SynthConfig(seed=3, subjects=3, clips_per_subject=(2, 2), frames_per_clip=(5, 5))


def clips_digest(clips) -> str:
    digest = hashlib.sha256()
    for c in clips:
        digest.update(f"{c.subject}|{c.name}|{c.emotion}|{c.action_units}|{c.first_frame}|{c.apex_index}|".encode())
        for frame in c.frames:
            digest.update(frame.tobytes())
    return digest.hexdigest()


def test_version_1_is_unchanged():
    """Pinned before v2 existed: v1 frames and folder names (hence existing synth rows) stay as they were."""
    from benchmarks.datasets.synth import dataset_folder
    from benchmarks.macro.synth_macro import MACRO_CONFIG, corpus_folder

    assert clips_digest(generate_clips(SMALL)) == "ec67bc9b9abfccb5e259b65ccf3900678907c9d87a79199cb54d6ef9bf6f8b5a"
    assert dataset_folder(SynthConfig()).name == "seed0-7aab7caccc"
    assert corpus_folder(MACRO_CONFIG).name == "seed1001-f58d8a2c14"


def test_generation_is_deterministic_in_the_seed():
    a = [c.frames[2] for c in generate_clips(SMALL)]
    b = [c.frames[2] for c in generate_clips(SMALL)]
    c = [c.frames[2] for c in generate_clips(SynthConfig(**{**SMALL.to_dict(), "seed": 4}))]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_written_in_casme2_layout_with_its_sheet_quirks(synth_index):
    root = synth_index.root
    sheet = pd.read_excel(next(root.glob("CASME2-coding-*.xlsx")))
    assert list(sheet.columns) == [
        "Subject",
        "Filename",
        "Unnamed: 2",
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        "Unnamed: 6",
        "Action Units",
        "Estimated Emotion",
    ]
    assert sheet["Subject"].dtype.kind == "i"  # integers in the sheet, sub01 folders on disk
    clip = synth_index.clips[0]
    assert clip.frames[clip.onset].parent.parent.name == "sub01"
    assert clip.frames[clip.onset].name == f"reg_img{clip.onset}.jpg"
    assert clip.frames[clip.onset].parent.parent.parent.name == "Cropped"


def test_default_dataset_shape(synth_index):
    cfg = SynthConfig()
    assert len(synth_index.subjects) == cfg.subjects >= 10
    counts = pd.Series([c.emotion for c in synth_index.clips]).value_counts()
    assert set(counts.index) == {"happiness", "disgust", "repression", "surprise", "others"}
    assert counts["others"] > 2 * counts["surprise"]  # imbalanced like CASME II
    imputed = [c for c in synth_index.clips if c.apex_imputed]
    assert 1 <= len(imputed) <= 5  # the '/' apex cells, imputed as the middle frame
    assert all(c.apex == (c.onset + c.offset) // 2 for c in imputed)
    assert class_set_for("synth").num_classes == 5


def test_identities_differ(synth_index):
    import cv2

    firsts = {}
    for clip in synth_index.clips:
        firsts.setdefault(clip.subject, cv2.imread(str(clip.frames[clip.onset])).astype(float))
    faces = list(firsts.values())
    gaps = [np.abs(faces[i] - faces[j]).mean() for i in range(len(faces)) for j in range(i)]
    assert min(gaps) > 8  # grey levels: no two subjects look alike


@pytest.mark.parametrize(
    "au,region,elsewhere",
    [
        ("AU1+2", "brow_l", "mouth_l"),
        ("AU6+12", "mouth_r", "brow_r"),
        ("AU9+10", "nose_l", "brow_l"),
    ],
)
def test_movements_are_localized(au, region, elsewhere):
    source = FaceSource()
    field = displacement_field(source, [(au, 1.0, 0.0)], SynthConfig().movement_sigma)
    magnitude = np.linalg.norm(field, axis=-1)

    def at(name):
        x, y = source.landmarks[name]
        return magnitude[int(y), int(x)]

    assert at(region) > 0.6 and at(elsewhere) < 0.05 * at(region)
    assert set(LANDMARKS) >= {lm for moves in ACTION_UNITS.values() for lm, _ in moves}


def test_intensity_rises_to_apex_then_releases():
    profile = intensity_profile(9, 4)
    assert profile[0] == 0 and profile[4] == pytest.approx(1)
    assert np.all(np.diff(profile[:5]) > 0) and np.all(np.diff(profile[4:]) < 0)
    assert profile[-1] == pytest.approx(0.15)
