"""``synth-macro``: the offline macro-expression corpus for MA2MI pre-training.

Same generator as ``synth`` (``benchmarks/synthetic.py``) with other parameters: more
identities (a different seed, so none is a ``synth`` subject), larger and more varied
motions (three times synth's amplitude at apex; pairs a few frames apart still move by about a pixel, which
is the point of MA2MI), longer onset->apex rises, and every action unit equally often. It is
written to disk in the generic layout, so the generic reader is what reads it. All
identities are warps of the same photograph as ``synth``'s; see docs/miacnet.md.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmarks.macro.generic import ANNOTATIONS, read_generic
from benchmarks.records import DatasetIndex
from benchmarks.synthetic import (
    EMOTIONS,
    SynthClip,
    SynthConfig,
    generated_folder,
    save_frames,
    write_generated,
)
from registry import MACRO

CORPUS_VERSION = 1
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


def corpus_folder(cfg: SynthConfig) -> Path:
    return generated_folder("synth-macro", CORPUS_VERSION, cfg)


def write_corpus(cfg: SynthConfig, target: Path) -> Path:
    """Generate ``cfg`` into ``target`` in the generic layout, atomically."""
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

    return write_generated(cfg, CORPUS_VERSION, target, write_clip, finish)


def default_root() -> Path:
    return write_corpus(MACRO_CONFIG, corpus_folder(MACRO_CONFIG))


def read_synth_macro(root: Path) -> DatasetIndex:
    """Synthetic macro-expression clips (30 identities, larger motions), generated on first use."""
    return read_generic(root, dataset="synth-macro")


MACRO.register(
    "synth-macro",
    summary="Synthetic macro-expression corpus (30 identities x 6 clips), generated on first use",
    citation=f"mer-zoo synthetic macro corpus (benchmarks/macro/synth_macro.py), version {CORPUS_VERSION}",
    generated=True,
    default_root=default_root,
    layout="generic (frames/<subject>/<clip>/ + annotations.csv)",
    same_subjects_as=(),
)(read_synth_macro)
