"""``synth-macro``: the offline macro-expression corpus for MA2MI pre-training.

Same generator as ``synth`` (``benchmarks/synthetic.py``) with other parameters: more
identities (a different seed, so none is a ``synth`` subject), larger and more varied
motions (three times synth's amplitude at apex; pairs a few frames apart still move by about a pixel, which
is the point of MA2MI), longer onset->apex rises, and every action unit equally often. It is
written to disk in the generic layout, so the generic reader is what reads it. All
identities are warps of the same photograph as ``synth``'s; see docs/miacnet.md.

``synth-macro`` is generator version 1 (unchanged); ``synth-macro-v2`` is version 2 with
``synth-v2``'s appearance model: the same clips, whose action units also wrinkle and shade
the skin (about three times as deeply as synth-v2's, as their motion is three times larger).
"""

from __future__ import annotations

import csv
from dataclasses import replace
from functools import partial
from pathlib import Path

from benchmarks.datasets.synth import APPEARANCE_V2
from benchmarks.macro.generic import ANNOTATIONS, read_generic
from benchmarks.records import DatasetIndex
from benchmarks.synthetic import (
    EMOTIONS,
    AppearanceConfig,
    SynthClip,
    SynthConfig,
    generated_folder,
    read_identity,
    save_frames,
    write_generated,
)
from registry import MACRO

MACRO_CONFIG = SynthConfig(
    seed=1001,
    subjects=30,
    clips_per_subject=(6, 6),
    class_frequencies={emotion: 1 for emotion in EMOTIONS},
    frames_per_clip=(16, 24),
    amplitude_px=3 * SynthConfig().amplitude_px,  # macro-sized: three times synth's apex
    amplitude_range=(0.5, 1.5),
    style_angle_deg=25.0,
    distractor_probability=0.5,
    distractor_px=1.5,
    unreadable_apex_fraction=0.0,
)


def corpus_folder(cfg: SynthConfig, appearance: AppearanceConfig | None = None) -> Path:
    return generated_folder("synth-macro" if appearance is None else "synth-macro-v2", cfg, appearance)


def write_corpus(cfg: SynthConfig, target: Path, appearance: AppearanceConfig | None = None) -> Path:
    """Generate ``cfg`` (version 2 if ``appearance`` is given) into ``target`` in the generic
    layout, atomically."""
    rows = [["subject", "clip", "onset", "apex", "offset", "emotion"]]

    def write_clip(folder: Path, index: int, clip: SynthClip) -> None:
        subject = f"macro{clip.subject:02d}"
        save_frames(folder / "frames" / subject / clip.name, clip, "img{number}.jpg", cfg.jpeg_quality)
        rows.append(
            [
                subject,
                clip.name,
                clip.first_frame,
                clip.first_frame + clip.apex_index,
                clip.first_frame + len(clip.frames) - 1,
                clip.emotion,
            ]
        )

    def finish(folder: Path) -> None:
        with open(folder / ANNOTATIONS, "w", newline="") as handle:
            csv.writer(handle).writerows(rows)

    return write_generated(cfg, appearance, target, write_clip, finish)


def default_root(appearance: AppearanceConfig | None = None) -> Path:
    return write_corpus(MACRO_CONFIG, corpus_folder(MACRO_CONFIG, appearance), appearance)


def read_synth_macro(root: Path) -> DatasetIndex:
    """Synthetic macro-expression clips (30 identities, larger motions), generated on first use."""
    return replace(read_generic(root, dataset="synth-macro"), generator=read_identity(root))


def read_synth_macro_v2(root: Path) -> DatasetIndex:
    """As ``synth-macro``, plus each action unit's appearance (generator version 2)."""
    return replace(read_generic(root, dataset="synth-macro-v2"), generator=read_identity(root))


CITATION = "mer-zoo synthetic macro corpus (benchmarks/macro/synth_macro.py), generator version {}"
LAYOUT = "generic (frames/<subject>/<clip>/ + annotations.csv)"

MACRO.register(
    "synth-macro",
    summary="Synthetic macro-expression corpus (30 identities x 6 clips), generated on first use",
    citation=CITATION.format(1),
    generated=True,
    default_root=default_root,
    layout=LAYOUT,
    same_subjects_as=(),
)(read_synth_macro)

MACRO.register(
    "synth-macro-v2",
    summary="synth-macro with synth-v2's appearance model (wrinkles, furrows, shading)",
    citation=CITATION.format(2),
    generated=True,
    default_root=partial(default_root, APPEARANCE_V2),
    layout=LAYOUT,
    same_subjects_as=(),
)(read_synth_macro_v2)
