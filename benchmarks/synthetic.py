"""Synthetic micro-expression clips made from a real face photograph.

The real MER datasets are licence-restricted, so tests and the default benchmark use clips
generated here and written in CASME II's on-disk format (see ``benchmarks/datasets/synth.py``).
What makes the task real rather than trivially separable:

- identities: one real face (scikit-image's bundled ``astronaut``) turned into many subjects
  by a smooth random warp of the face geometry, size, pose, mirror and skin tone;
- movements: each class is a set of localized displacements at facial landmarks, the size
  of real micro-expressions (about 2 px at apex on a 128 px face; CASME II's move a few px
  on a 280 px face), and classes share regions (happiness and repression both move the lip
  corners, surprise and brow lowering both the brows), so a model must tell *which*
  movement, not only *where*;
- "others" is heterogeneous (one of four unrelated actions), as in CASME II;
- nuisances: per-subject movement style, per-clip intensity, head motion between frames,
  illumination flicker, sensor noise, JPEG compression, and unrelated distractor movements.

Generator version 1 only moves pixels of the smooth photograph. Version 2 (an
:class:`AppearanceConfig`) also renders what each action unit does to the skin's look:
wrinkles, furrows and bulges, shaded by light from above, on the skin so they move with it,
ramping with the same onset-apex-offset profile as the motion and varied per subject. Real
pixel-difference models (MMNet, MIACNet) live on these changes; without them ``apex - onset``
sees little that optical flow does not see better. Version 2 draws its randomness from its
own stream, so a v2 clip is the v1 clip of the same seed plus its appearance change.

All randomness flows from one seed, so a configuration always produces the same files.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from benchmarks.files import atomic_folder, cache_home

# Landmarks of the bundled photograph, in its pixel coordinates (x, y).
LANDMARKS: dict[str, tuple[float, float]] = {
    "brow_l_outer": (193, 93),
    "brow_l": (203, 91),
    "brow_l_inner": (214, 93),
    "brow_r_inner": (236, 93),
    "brow_r": (247, 91),
    "brow_r_outer": (258, 93),
    "eye_l": (203, 101),
    "eye_r": (246, 102),
    "lid_l_lower": (203, 105),
    "lid_r_lower": (246, 106),
    "nose_root": (225, 108),
    "nose_l": (217, 120),
    "nose_r": (233, 120),
    "cheek_l": (205, 128),
    "cheek_r": (246, 128),
    "mouth_l": (207, 142),
    "mouth_r": (246, 142),
    "lip_upper": (226, 139),
    "lip_lower": (226, 149),
    "chin": (226, 166),
}
FACE_BOX = (120, 10, 330, 220)  # x0, y0, x1, y1 of the face region in the photograph

# A movement is a list of (landmark, (dx, dy)) in units of the clip's amplitude; +y is down.
Movement = tuple[tuple[str, tuple[float, float]], ...]

ACTION_UNITS: dict[str, Movement] = {
    "AU1+2": (
        ("brow_l", (0, -1)),
        ("brow_r", (0, -1)),
        ("brow_l_inner", (0, -0.9)),
        ("brow_r_inner", (0, -0.9)),
        ("brow_l_outer", (0, -0.7)),
        ("brow_r_outer", (0, -0.7)),
    ),
    "AU4": (
        ("brow_l_inner", (0.6, 0.8)),
        ("brow_r_inner", (-0.6, 0.8)),
        ("brow_l", (0.3, 0.6)),
        ("brow_r", (-0.3, 0.6)),
    ),
    "AU6+12": (
        ("mouth_l", (-0.6, -0.9)),
        ("mouth_r", (0.6, -0.9)),
        ("cheek_l", (0, -0.5)),
        ("cheek_r", (0, -0.5)),
    ),
    "AU9+10": (
        ("nose_l", (0, -0.8)),
        ("nose_r", (0, -0.8)),
        ("lip_upper", (0, -0.8)),
        ("nose_root", (0, 0.4)),
    ),
    "AU14+24": (
        ("mouth_l", (0.7, 0.1)),
        ("mouth_r", (-0.7, 0.1)),
        ("lip_upper", (0, 0.6)),
        ("lip_lower", (0, -0.6)),
    ),
    "AU7": (("lid_l_lower", (0, -0.8)), ("lid_r_lower", (0, -0.8))),
    "AU15": (("mouth_l", (-0.2, 0.9)), ("mouth_r", (0.2, 0.9))),
    "AU17": (("chin", (0, -0.9)), ("lip_lower", (0, -0.6))),
}

# CASME II emotion -> the action units that express it; several entries mean "one of".
EMOTIONS: dict[str, tuple[str, ...]] = {
    "happiness": ("AU6+12",),
    "disgust": ("AU9+10",),
    "repression": ("AU14+24",),
    "surprise": ("AU1+2",),
    "others": ("AU4", "AU7", "AU15", "AU17"),
}
APPEARANCE_STREAM = 2  # third entropy word of each subject's appearance generator
# Class frequencies of CASME II's 5-class split (32/63/27/25/99 of 246).
CASME2_FREQUENCIES = {"happiness": 32, "disgust": 63, "repression": 27, "surprise": 25, "others": 99}

# What each action unit does to the skin (generator version 2), in FACS terms: a crease is a
# valley along a curve (a wrinkle or furrow), a bulge a smooth bump (a raised cheek, a
# bunched brow; negative: a pit). Points are (landmark, dx, dy) with offsets in eye distances
# (+x to the image right, +y down); features on "_l" landmarks are mirrored to "_r".
Point = tuple[str, float, float]


@dataclass(frozen=True)
class Crease:
    points: tuple[Point, ...]  # a polyline
    depth: float = 1.0
    width: float = 0.04  # std across the valley, eye distances


@dataclass(frozen=True)
class Bulge:
    centre: Point
    radius: float  # std, eye distances
    height: float = 1.0


Feature = Crease | Bulge


def _mirror(feature: Feature) -> Feature:
    def flip(point: Point) -> Point:
        name, dx, dy = point
        return re.sub(r"_l(?=_|$)", "_r", name), -dx, dy

    if isinstance(feature, Crease):
        return Crease(tuple(flip(p) for p in feature.points), feature.depth, feature.width)
    return Bulge(flip(feature.centre), feature.radius, feature.height)


def _both_sides(*features: Feature) -> tuple[Feature, ...]:
    return tuple(f for feature in features for f in (feature, _mirror(feature)))


FOREHEAD_LINES = (-0.3, -0.44, -0.58, -0.72)  # rows above the brows (AU1+2), eye distances
APPEARANCE: dict[str, tuple[Feature, ...]] = {
    # horizontal forehead wrinkles, arched like the raised brows
    "AU1+2": tuple(
        Crease(
            (
                ("brow_l_outer", -0.05, dy + 0.06),
                ("brow_l", 0, dy),
                ("brow_l_inner", 0, dy - 0.02),
                ("brow_r_inner", 0, dy - 0.02),
                ("brow_r", 0, dy),
                ("brow_r_outer", 0.05, dy + 0.06),
            ),
            depth=1.0 - 0.12 * i,
        )
        for i, dy in enumerate(FOREHEAD_LINES)
    ),
    # vertical furrows between the brows, and the bunched brow above them
    "AU4": _both_sides(
        Crease((("brow_l_inner", 0.12, 0.04), ("brow_l_inner", 0.15, -0.28)), depth=1.3),
        Bulge(("brow_l_inner", 0.02, -0.06), 0.09, 0.8),
    ),
    # crow's feet at the outer eye corners, the raised cheek, a deeper nasolabial furrow
    "AU6+12": _both_sides(
        Crease((("eye_l", -0.32, -0.07), ("eye_l", -0.5, -0.17))),
        Crease((("eye_l", -0.34, 0.0), ("eye_l", -0.54, 0.01))),
        Crease((("eye_l", -0.32, 0.08), ("eye_l", -0.5, 0.19))),
        Bulge(("cheek_l", 0.0, -0.08), 0.16, 0.5),
        Crease((("nose_l", -0.1, 0.0), ("nose_l", -0.22, 0.2), ("mouth_l", -0.12, 0.05)), 1.2, 0.05),
    ),
    # wrinkles across the sides of the nose, the upper nasolabial furrow, the raised upper lip
    "AU9+10": _both_sides(
        Crease((("nose_root", -0.12, 0.04), ("nose_root", -0.02, 0.09))),
        Crease((("nose_root", -0.14, 0.13), ("nose_root", -0.03, 0.18))),
        Crease((("nose_l", -0.1, 0.0), ("nose_l", -0.22, 0.2)), 1.2, 0.05),
    )
    + (Bulge(("lip_upper", 0.0, -0.07), 0.1, 0.6),),
    # dimples at the lip corners, the pressed lip line and the bulge below the lower lip
    "AU14+24": _both_sides(Crease((("mouth_l", -0.08, -0.07), ("mouth_l", -0.1, 0.08)), 1.3))
    + (
        Crease((("mouth_l", 0.06, 0.02), ("lip_upper", 0.0, 0.1), ("mouth_r", -0.06, 0.02)), 0.8),
        Bulge(("lip_lower", 0.0, 0.12), 0.1, 0.6),
    ),
    # a line under each tightened lower lid, and the lid's bulge
    "AU7": _both_sides(
        Crease((("lid_l_lower", -0.15, 0.07), ("lid_l_lower", 0.0, 0.1), ("lid_l_lower", 0.15, 0.07)), 1.3),
        Bulge(("lid_l_lower", 0.0, 0.03), 0.07, 0.6),
    ),
    # lines running down from the pulled-down lip corners
    "AU15": _both_sides(Crease((("mouth_l", -0.04, 0.04), ("mouth_l", -0.14, 0.36)), 1.4)),
    # the raised chin: its boss, the deeper fold under the lower lip, dimpled skin
    "AU17": (
        Bulge(("chin", 0.0, -0.1), 0.16, 0.6),
        Crease((("lip_lower", -0.2, 0.2), ("lip_lower", 0.0, 0.25), ("lip_lower", 0.2, 0.2)), 1.1),
    )
    + _both_sides(Bulge(("chin", -0.08, -0.12), 0.035, -0.7), Bulge(("chin", -0.05, -0.02), 0.035, -0.7)),
}


@dataclass(frozen=True)
class SynthConfig:
    """Every parameter of the generator; its hash names the generated dataset's folder."""

    seed: int = 0
    subjects: int = 12
    clips_per_subject: tuple[int, int] = (8, 16)  # inclusive range, drawn per subject
    class_frequencies: dict[str, int] = field(default_factory=lambda: dict(CASME2_FREQUENCIES))
    frame_size: int = 128  # square frames, face filling the frame (as CASME II's Cropped)
    frames_per_clip: tuple[int, int] = (9, 15)
    amplitude_px: float = 2.0  # peak displacement of the class movement at apex, in frame px
    amplitude_range: tuple[float, float] = (0.6, 1.4)  # per-clip intensity factor
    style_scale: tuple[float, float] = (0.75, 1.25)  # per-subject, per-action strength
    style_angle_deg: float = 15.0  # per-subject, per-action direction spread (std)
    movement_sigma: float = 0.045  # spatial extent of each displacement, fraction of the face
    head_motion_px: float = 0.25  # std of the per-frame head translation step
    head_rotation_deg: float = 0.3
    flicker: float = 0.03  # std of the per-frame illumination gain
    noise_std: float = 2.0  # sensor noise, grey levels
    distractor_probability: float = 0.3
    distractor_px: float = 0.5
    unreadable_apex_fraction: float = 0.02  # sheet cells with '/' instead of a frame number
    jpeg_quality: int = 92

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AppearanceConfig:
    """Generator version 2: how strongly action units change the skin's look.

    An action unit moving by ``strength`` px at apex changes log-brightness by ``gain *
    strength / reference_px`` times its shading map: a crease darkens along its bottom
    (cavity) and, lit from above, is darker on its upper wall than its lower one (``relief``
    weighs that slope term); a bulge is lit on top and shadowed below. ``gain`` is the one
    calibrated parameter; the rest fix the look and its spread over subjects.
    """

    gain: float = 1.0  # log-brightness at the bottom of a unit crease, for a reference_px movement
    reference_px: float = 2.0  # movement strength (px at apex) the gain refers to: synth's amplitude
    relief: float = 0.5  # slope shading of a crease against its cavity darkening
    subject_gain: tuple[float, float] = (0.6, 1.4)  # per subject and action unit
    feature_gain: tuple[float, float] = (0.5, 1.5)  # per subject and wrinkle/bulge
    jitter: float = 0.03  # per subject, std of each feature point's offset, eye distances

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Identity:
    """A synthetic subject: where its face lies and how it looks."""

    inverse_map: np.ndarray  # (S, S, 2) frame pixel -> canonical pixel
    gains: np.ndarray  # (3,) RGB multipliers
    gamma: float
    style: dict[str, tuple[float, float]]  # action unit -> (strength, angle in radians)


@dataclass(frozen=True)
class SynthClip:
    """One generated clip: frames plus the annotation a sheet row needs."""

    subject: int
    name: str
    emotion: str
    action_units: str
    first_frame: int
    apex_index: int
    frames: list[np.ndarray]  # RGB uint8


class FaceSource:
    """The canonical face: the bundled photograph's face region, smoothed for resampling."""

    def __init__(self, size: int = 256):
        from skimage import data

        photo = data.astronaut()
        x0, y0, x1, y1 = FACE_BOX
        crop = photo[y0:y1, x0:x1].astype(np.float32)
        self.size = size
        self.scale = size / (x1 - x0)
        self.image = cv2.GaussianBlur(
            cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), (0, 0), 0.8
        )
        self.landmarks = {
            k: ((x - x0) * self.scale, (y - y0) * self.scale) for k, (x, y) in LANDMARKS.items()
        }


def _smooth_field(rng: np.random.Generator, size: int, grid: int, std: float) -> np.ndarray:
    coarse = rng.normal(0.0, std, size=(grid, grid, 2)).astype(np.float32)
    return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def make_identity(rng: np.random.Generator, source: FaceSource, cfg: SynthConfig) -> Identity:
    """A new subject: random affine pose/size/aspect, smooth shape warp, mirror and skin tone."""
    s_out, s_can = cfg.frame_size, source.size
    scale = rng.uniform(0.72, 0.86) * s_can / s_out
    aspect = rng.uniform(0.9, 1.1)
    angle = np.deg2rad(rng.uniform(-5, 5))
    shift = rng.uniform(-0.04, 0.04, size=2) * s_can
    mirror = rng.random() < 0.5
    ys, xs = np.mgrid[0:s_out, 0:s_out].astype(np.float32)
    u, v = xs - s_out / 2, ys - s_out / 2
    if mirror:
        u = -u
    cos, sin = np.cos(angle), np.sin(angle)
    cx = (cos * u - sin * v) * scale * aspect + s_can / 2 + shift[0]
    cy = (sin * u + cos * v) * scale / aspect + s_can / 2 + shift[1]
    warp = _smooth_field(rng, s_out, 4, 0.018 * s_can)
    inverse_map = np.stack([cx + warp[..., 0], cy + warp[..., 1]], axis=-1).astype(np.float32)
    tone = rng.uniform(0.55, 1.15)
    gains = tone * (1 + rng.uniform(-0.08, 0.08, size=3))
    style = {
        au: (rng.uniform(*cfg.style_scale), np.deg2rad(rng.normal(0, cfg.style_angle_deg)))
        for au in ACTION_UNITS
    }
    return Identity(inverse_map, gains.astype(np.float32), float(rng.uniform(0.85, 1.2)), style)


def displacement_field(
    source: FaceSource, movements: list[tuple[str, float, float]], sigma: float
) -> np.ndarray:
    """Canonical-space displacement (S, S, 2) for ``(action unit, strength px, angle)`` items."""
    size = source.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    field_ = np.zeros((size, size, 2), np.float32)
    width = 2 * (sigma * size) ** 2
    for au, strength, angle in movements:
        cos, sin = np.cos(angle), np.sin(angle)
        for landmark, (dx, dy) in ACTION_UNITS[au]:
            lx, ly = source.landmarks[landmark]
            bump = np.exp(-((xs - lx) ** 2 + (ys - ly) ** 2) / width)
            field_[..., 0] += bump * strength * (cos * dx - sin * dy)
            field_[..., 1] += bump * strength * (sin * dx + cos * dy)
    return field_


def _segment_distance(xs: np.ndarray, ys: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((xs - a[0]) * ab[0] + (ys - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6), 0, 1)
    return np.hypot(xs - a[0] - t * ab[0], ys - a[1] - t * ab[1])


def appearance_maps(
    rng: np.random.Generator, source: FaceSource, appearance: AppearanceConfig
) -> dict[str, np.ndarray]:
    """One subject's shading map (S, S) per action unit on the canonical face, in units of
    ``appearance.gain`` log-brightness: the features of :data:`APPEARANCE`, each point moved by
    ``jitter``, each feature and each action unit weighted by this subject's own factor."""
    size = source.size
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    lm = source.landmarks
    unit = float(np.hypot(lm["eye_r"][0] - lm["eye_l"][0], lm["eye_r"][1] - lm["eye_l"][1]))

    def place(point: Point) -> np.ndarray:
        name, dx, dy = point
        jitter = rng.normal(0, appearance.jitter, size=2)
        return np.array([lm[name][0] + (dx + jitter[0]) * unit, lm[name][1] + (dy + jitter[1]) * unit])

    maps = {}
    for au, features in APPEARANCE.items():
        shade = np.zeros((size, size), np.float32)
        for feature in features:
            weight = rng.uniform(*appearance.feature_gain)
            if isinstance(feature, Crease):
                points = [place(p) for p in feature.points]
                width = feature.width * unit
                distance = np.min([_segment_distance(xs, ys, a, b) for a, b in zip(points, points[1:])], axis=0)
                valley = np.exp(-(distance**2) / (2 * width**2))
                slope = np.gradient(valley, axis=0) * width
                shade -= weight * feature.depth * (valley + appearance.relief * slope)
            else:
                centre, radius = place(feature.centre), feature.radius * unit
                bump = np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * radius**2))
                shade += weight * feature.height * np.gradient(bump, axis=0) * radius
        maps[au] = rng.uniform(*appearance.subject_gain) * shade
    return maps


def intensity_profile(n_frames: int, apex_index: int) -> np.ndarray:
    """Smooth rise from onset (0) to apex (1), then a partial release towards offset."""
    t = np.arange(n_frames, dtype=np.float32)
    rise = np.sin(0.5 * np.pi * np.clip(t / max(apex_index, 1), 0, 1)) ** 2
    fall = (
        1
        - 0.85
        * np.sin(0.5 * np.pi * np.clip((t - apex_index) / max(n_frames - 1 - apex_index, 1), 0, 1)) ** 2
    )
    return np.where(t <= apex_index, rise, fall)


def render_clip(
    rng: np.random.Generator,
    source: FaceSource,
    identity: Identity,
    field_: np.ndarray,
    profile: np.ndarray,
    cfg: SynthConfig,
    shade: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Frames of one clip: the face moved by ``profile[t] * field_``, seen through the identity
    warp, with head motion, flicker and noise. One resampling per frame, from the canonical face.
    ``shade`` (canonical log-brightness at apex, version 2) is resampled alike, so wrinkles sit
    on the skin and move with it, and ramps with the same ``profile``.
    """
    s = cfg.frame_size
    base = identity.inverse_map
    scale = source.size / s
    offset = np.zeros(2, np.float32)
    rotation = 0.0
    frames = []
    for t, intensity in enumerate(profile):
        if t:
            offset += rng.normal(0, cfg.head_motion_px, size=2).astype(np.float32)
            rotation += rng.normal(0, np.deg2rad(cfg.head_rotation_deg))
        # head motion: rotate/translate frame coordinates, then map through the identity
        centre = s / 2
        ys, xs = np.mgrid[0:s, 0:s].astype(np.float32)
        cos, sin = np.cos(rotation), np.sin(rotation)
        hx = cos * (xs - centre) - sin * (ys - centre) + centre - offset[0]
        hy = sin * (xs - centre) + cos * (ys - centre) + centre - offset[1]
        q = cv2.remap(
            base,
            hx.astype(np.float32),
            hy.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        # expression: sample the canonical face at q - d(q) (d in canonical px)
        d = cv2.remap(field_, q, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        src = (q - intensity * d * scale).astype(np.float32)
        img = cv2.remap(source.image, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if shade is not None:
            skin = cv2.remap(shade, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            img = img * np.exp(intensity * skin)[..., None]
        gain = 1 + rng.normal(0, cfg.flicker)
        img = 255.0 * (np.clip(img / 255.0, 0, 1) ** identity.gamma) * identity.gains * gain
        img = img + rng.normal(0, cfg.noise_std, size=img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def _clip_emotions(rng: np.random.Generator, cfg: SynthConfig) -> list[list[str]]:
    names = list(cfg.class_frequencies)
    weights = np.array([cfg.class_frequencies[n] for n in names], dtype=np.float64)
    weights /= weights.sum()
    lo, hi = cfg.clips_per_subject
    return [
        [names[i] for i in rng.choice(len(names), size=rng.integers(lo, hi + 1), p=weights)]
        for _ in range(cfg.subjects)
    ]


def generate_clips(
    cfg: SynthConfig, source: FaceSource | None = None, appearance: AppearanceConfig | None = None
) -> Iterator[SynthClip]:
    """All clips of a configuration, subject by subject, deterministic in ``cfg.seed``.

    ``appearance`` (version 2) draws from a stream of its own per subject, so every other
    draw, hence the motion, noise and annotation of every clip, is version 1's.
    """
    source = source or FaceSource()
    rng = np.random.default_rng(cfg.seed)
    plan = _clip_emotions(rng, cfg)
    sigma = cfg.movement_sigma
    for subject, emotions in enumerate(plan, start=1):
        identity = make_identity(rng, source, cfg)
        skin = (
            appearance_maps(np.random.default_rng([cfg.seed, subject, APPEARANCE_STREAM]), source, appearance)
            if appearance
            else None
        )
        for number, emotion in enumerate(emotions, start=1):
            au = EMOTIONS[emotion][rng.integers(len(EMOTIONS[emotion]))]
            amplitude = cfg.amplitude_px * rng.uniform(*cfg.amplitude_range)
            strength, angle = identity.style[au]
            movements = [(au, amplitude * strength, angle)]
            if rng.random() < cfg.distractor_probability:
                other = list(ACTION_UNITS)[rng.integers(len(ACTION_UNITS))]
                movements.append(
                    (other, cfg.distractor_px * rng.uniform(0.5, 1.5), rng.uniform(-np.pi, np.pi))
                )
            n_frames = int(rng.integers(cfg.frames_per_clip[0], cfg.frames_per_clip[1] + 1))
            apex_index = int(rng.integers(n_frames // 3, 2 * n_frames // 3 + 1))
            field_ = displacement_field(source, movements, sigma)
            shade = (
                appearance.gain / appearance.reference_px * sum(px * skin[name] for name, px, _ in movements)
                if skin
                else None
            )
            profile = intensity_profile(n_frames, apex_index)
            frames = render_clip(rng, source, identity, field_, profile, cfg, shade)
            yield SynthClip(
                subject=subject,
                name=f"EP{number:02d}_{int(rng.integers(1, 20)):02d}{'fs'[number % 2]}",
                emotion=emotion,
                action_units=au,
                first_frame=int(rng.integers(10, 300)),
                apex_index=apex_index,
                frames=frames,
            )


GENERATOR_MARKER = "generator.json"


def generator_version(appearance: AppearanceConfig | None) -> int:
    """1: action units only move pixels; 2: they also change the skin's appearance."""
    return 1 if appearance is None else 2


def generator_identity(cfg: SynthConfig, appearance: AppearanceConfig | None = None) -> dict:
    """Everything that defines a generated corpus: the version, every parameter and, for
    version 2, a digest of the wrinkle table (a version 1 identity holds no appearance key,
    so it is what it was before version 2 existed)."""
    identity = {"version": generator_version(appearance), **cfg.to_dict()}
    if appearance:
        table = hashlib.sha256(repr(APPEARANCE).encode()).hexdigest()[:10]
        identity["appearance"] = {**appearance.to_dict(), "features": table}
    return identity


def generated_folder(kind: str, cfg: SynthConfig, appearance: AppearanceConfig | None = None) -> Path:
    """The cache folder of a generated corpus, named by a hash of its identity."""
    blob = json.dumps(generator_identity(cfg, appearance), sort_keys=True)
    return cache_home() / kind / f"seed{cfg.seed}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def write_generated(
    cfg: SynthConfig,
    appearance: AppearanceConfig | None,
    target: Path,
    write_clip: Callable[[Path, int, SynthClip], None],
    finish: Callable[[Path], None] = lambda folder: None,
) -> Path:
    """Generate every clip into ``target`` atomically; ``write_clip(folder, index, clip)`` lays
    out one clip, ``finish(folder)`` writes the annotation file, the marker records the identity."""

    def fill(folder: Path) -> None:
        for index, clip in enumerate(generate_clips(cfg, FaceSource(), appearance)):
            write_clip(folder, index, clip)
        finish(folder)
        (folder / GENERATOR_MARKER).write_text(json.dumps(generator_identity(cfg, appearance), indent=1))

    return atomic_folder(target, GENERATOR_MARKER, fill)


def read_identity(root: Path) -> str:
    """A generated folder's identity as recorded by its marker (what fingerprints carry); empty
    for a folder without one (frames copied elsewhere: fingerprinted as recorded data)."""
    marker = Path(root) / GENERATOR_MARKER
    return json.dumps(json.loads(marker.read_text()), sort_keys=True) if marker.is_file() else ""


def save_frames(folder: Path, clip: SynthClip, file_name: str, quality: int) -> None:
    """Write a clip's frames as JPEG; ``file_name`` is formatted with the frame ``number``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(clip.frames):
        cv2.imwrite(
            str(folder / file_name.format(number=clip.first_frame + i)),
            frame[..., ::-1],
            [cv2.IMWRITE_JPEG_QUALITY, quality],
        )
