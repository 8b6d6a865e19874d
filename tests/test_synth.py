"""The synthetic dataset: written in CASME II's format, read by the CASME II reader."""

import hashlib
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from benchmarks.datasets import class_set_for, load_dataset
from benchmarks.datasets.synth import (
    APPEARANCE_V2,
    CASME2_SIZE,
    dataset_folder,
    read_synth,
    read_synth_v2,
    write_dataset,
)
from benchmarks.macro.synth_macro import MACRO_CONFIG, corpus_folder
from benchmarks.synthetic import (
    ACTION_UNITS,
    GENERATOR_MARKER,
    LANDMARKS,
    AppearanceConfig,
    FaceSource,
    Identity,
    SynthConfig,
    _clip_emotions,
    appearance_maps,
    displacement_field,
    generate_clips,
    intensity_profile,
    render_clip,
)
from zoo.bench.plan import select_samples

SMALL = SynthConfig(seed=3, subjects=3, clips_per_subject=(2, 2), frames_per_clip=(5, 5))


def clips_digest(clips) -> str:
    """Every frame's bytes: equal only on one machine (SIMD paths of numpy and OpenCV may round
    a few pixels the other way on another CPU), so it compares runs here, never a pinned value."""
    digest = hashlib.sha256()
    for c in clips:
        digest.update(f"{c.subject}|{c.name}|{c.emotion}|{c.action_units}|{c.first_frame}|{c.apex_index}|".encode())
        for frame in c.frames:
            digest.update(frame.tobytes())
    return digest.hexdigest()


def clips_summary(clips) -> tuple[str, list[tuple[float, float]]]:
    """What can be pinned across CPUs: a digest of every clip's annotation and frame shapes, and
    per clip the mean grey level and the mean |apex - onset| (a pixel rounded the other way on
    another CPU moves these by ~1e-5; a change to the generator moves them far more)."""
    meta, stats = hashlib.sha256(), []
    for c in clips:
        meta.update(f"{c.subject}|{c.name}|{c.emotion}|{c.action_units}|{c.first_frame}|{c.apex_index}|"
                    f"{len(c.frames)}|{c.frames[0].shape}".encode())
        frames = np.stack(c.frames).astype(float)
        stats.append((frames.mean(), np.abs(frames[c.apex_index] - frames[0]).mean()))
    return meta.hexdigest(), stats


SMALL_ANNOTATION = "5af140d277c73a3029484fec0facd01c3dec1b1aac5650ec7863288ee0cd597c"


def assert_pinned(clips, annotation: str, stats: list[tuple[float, float]]) -> None:
    got_annotation, got_stats = clips_summary(clips)
    assert got_annotation == annotation
    assert np.asarray(got_stats) == pytest.approx(np.asarray(stats), abs=0.01)


def test_version_1_is_unchanged():
    """Pinned before v2 existed: v1 frames and folder names (hence existing synth rows) stay as they were."""
    assert_pinned(generate_clips(SMALL), SMALL_ANNOTATION, [
        (138.271, 13.287), (141.322, 6.573), (97.110, 6.152), (98.825, 6.772), (77.768, 3.053), (77.739, 4.472)
    ])
    assert dataset_folder(SynthConfig()).name == "seed0-7aab7caccc"
    assert corpus_folder(MACRO_CONFIG).name == "seed1001-f58d8a2c14"


def test_version_2_is_its_own_data_and_leaves_version_1_alone(tmp_path):
    v1 = read_synth(write_dataset(SMALL, tmp_path / "v1"))
    v2 = read_synth_v2(write_dataset(SMALL, tmp_path / "v2", APPEARANCE_V2))
    # same clips and annotation; the generator's version and parameters tell them apart
    assert [(c.key, c.emotion, c.onset, c.apex) for c in v1.clips] == [
        (c.key, c.emotion, c.onset, c.apex) for c in v2.clips
    ]
    assert '"version": 2' in v2.generator and '"version": 1' in v1.generator
    # pinned: the generator's identity and the annotations, the same on every machine
    assert (v1.fingerprint(), v2.fingerprint()) == ("5a65b7031b88df43", "94d699c1620eddda")
    assert dataset_folder(SMALL, APPEARANCE_V2) != dataset_folder(SMALL)
    assert dataset_folder(SynthConfig(), APPEARANCE_V2).name == "seed0-3a02ade2a8"  # the calibrated data
    assert dataset_folder(SMALL, APPEARANCE_V2) != dataset_folder(SMALL, replace(APPEARANCE_V2, gain=0.5))


def test_a_generated_dataset_written_again_is_the_same_dataset(tmp_path):
    """Its fingerprint is the generator's identity and the annotations, not the files' mtimes,
    so a copy written later (or on another CPU) gets the same run ids; frames copied without the
    generator's marker are fingerprinted as recorded data, whose frames' mtimes count."""
    first = read_synth(write_dataset(SMALL, tmp_path / "first"))
    again = read_synth(write_dataset(SMALL, tmp_path / "again"))
    assert first.fingerprint() == again.fingerprint()
    other = read_synth(write_dataset(replace(SMALL, seed=SMALL.seed + 1), tmp_path / "other"))
    assert other.fingerprint() != first.fingerprint()
    (tmp_path / "first" / GENERATOR_MARKER).unlink()
    copied = read_synth(tmp_path / "first")
    assert copied.generator == "" and copied.fingerprint() != first.fingerprint()
    frame = copied.clips[0].frames[copied.clips[0].apex]
    before = copied.fingerprint()
    os.utime(frame, ns=(1_700_000_000_000_000_000,) * 2)
    assert copied.fingerprint() != before


# frames of SMALL at synth-v2's appearance: pinned, so the look cannot change unversioned
V2_STATS = [(136.582, 16.197), (140.794, 7.391), (96.658, 7.000), (97.311, 9.305), (77.259, 4.149), (77.228, 5.420)]


def test_version_2_is_deterministic_and_changes_only_appearance():
    a = list(generate_clips(SMALL, appearance=APPEARANCE_V2))
    b = list(generate_clips(SMALL, appearance=APPEARANCE_V2))
    other_seed = list(generate_clips(replace(SMALL, seed=4), appearance=APPEARANCE_V2))
    v1 = list(generate_clips(SMALL))
    assert clips_digest(a) == clips_digest(b) != clips_digest(other_seed)
    # a change to the version 2 look must come with a new generator version
    assert_pinned(a, SMALL_ANNOTATION, V2_STATS)
    for clip, plain in zip(a, v1):
        assert np.array_equal(clip.frames[0], plain.frames[0])  # onset: no expression yet
        apex = clip.frames[clip.apex_index].astype(float) - plain.frames[clip.apex_index]
        assert np.abs(apex).mean() > 0.05  # grey levels over the whole frame


def plain_identity(source: FaceSource, size: int) -> Identity:
    """Frame pixel (x, y) shows canonical pixel (x, y) * source.size / size: no pose, no warp."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    scale = source.size / size
    return Identity(np.stack([xs * scale, ys * scale], -1), np.ones(3, np.float32), 1.0, {})


# Where each action unit's skin changes (FACS), as boxes (landmark, x0, x1, y0, y1) in eye
# distances; "_l" boxes are mirrored to the right side.
AU_REGIONS = {
    "AU1+2": [("brow_l_outer", -0.2, 1.75, -0.95, 0.05)],  # forehead above the brows
    "AU4": [("brow_l_inner", -0.05, 0.55, -0.45, 0.2)],  # between the brows
    "AU6+12": [("eye_l", -0.75, -0.2, -0.35, 0.35), ("cheek_l", -0.45, 0.3, -0.4, 0.55)],  # eye corners, cheeks
    "AU9+10": [("nose_root", -0.35, 0.35, -0.05, 0.3), ("nose_l", -0.35, 0.05, -0.1, 0.35),
               ("lip_upper", -0.2, 0.2, -0.25, 0.05)],  # nose, nasolabial furrow, upper lip
    "AU14+24": [("mouth_l", -0.25, 0.1, -0.2, 0.2), ("lip_upper", -0.5, 0.5, -0.05, 0.5)],  # lip corners, lips
    "AU7": [("lid_l_lower", -0.3, 0.3, -0.1, 0.25)],  # below the lower lids
    "AU15": [("mouth_l", -0.3, 0.1, -0.05, 0.5)],  # below the lip corners
    "AU17": [("chin", -0.4, 0.4, -0.55, 0.15)],  # chin and the fold above it
}


@pytest.mark.parametrize("au", list(AU_REGIONS))
def test_appearance_changes_stay_in_the_action_units_region(au):
    """The apex - onset difference of a clip whose only change is the appearance of ``au``:
    at least 90 % of its energy lies in the action unit's region, which covers under 10 % of
    the frame (energy density at least 80 times higher inside than outside)."""
    source, size = FaceSource(), 128
    lm, scale = source.landmarks, size / source.size
    unit = np.hypot(lm["eye_r"][0] - lm["eye_l"][0], lm["eye_r"][1] - lm["eye_l"][1])
    centre = (lm["eye_l"][0] + lm["eye_r"][0]) / 2
    ys, xs = np.mgrid[0:size, 0:size] / scale  # canonical coordinates of every frame pixel
    inside = np.zeros((size, size), bool)
    for name, x0, x1, y0, y1 in AU_REGIONS[au]:
        x, y = lm[name]
        box = [(x + x0 * unit, x + x1 * unit)]
        if name.endswith("_l") or "_l_" in name:
            box.append((2 * centre - box[0][1], 2 * centre - box[0][0]))
        for left, right in box:
            inside |= (xs >= left) & (xs <= right) & (ys >= y + y0 * unit) & (ys <= y + y1 * unit)
    cfg = SynthConfig(frame_size=size, head_motion_px=0, head_rotation_deg=0, flicker=0, noise_std=0)
    still = np.zeros((source.size, source.size, 2), np.float32)
    for subject in range(3):  # each subject's own wrinkles
        shade = APPEARANCE_V2.gain * appearance_maps(np.random.default_rng(subject), source, APPEARANCE_V2)[au]
        onset, apex = render_clip(np.random.default_rng(0), source, plain_identity(source, size), still,
                                  np.array([0.0, 1.0]), cfg, shade)
        energy = ((apex.astype(float) - onset) ** 2).sum(-1)
        assert energy.sum() > 0
        assert energy[inside].sum() / energy.sum() >= 0.9 and inside.mean() < 0.1, au


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


def test_casme2_sized_generator_draws_casme2s_counts():
    plan = _clip_emotions(np.random.default_rng(CASME2_SIZE.seed), CASME2_SIZE)
    clips_per_subject = [len(emotions) for emotions in plan]
    assert (sum(clips_per_subject), len(clips_per_subject)) == (255, 26)
    assert min(clips_per_subject) < 8 and max(clips_per_subject) > 12  # uneven, as CASME II's


@pytest.mark.slow
def test_casme2_sized_dataset_has_casme2s_counts():
    index = load_dataset("synth-casme2-size")  # generated here: about 20 s on one core
    assert (len(index.clips), len(index.subjects)) == (255, 26)
    assert index.fingerprint() != load_dataset("synth").fingerprint()
    keys, labels, _ = select_samples(index, class_set_for("synth-casme2-size"))
    assert len(keys) == 255 and set(labels) == set(range(5))  # the 5-class set keeps every clip


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
