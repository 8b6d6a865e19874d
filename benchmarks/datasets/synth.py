"""``synth`` and ``synth-v2``: the embedded datasets, generated on first use in CASME II's format.

The generator (``benchmarks/synthetic.py``) writes ``Cropped/subNN/<clip>/reg_img<n>.jpg``
and a ``CASME2-coding-synth.xlsx`` sheet with CASME II's columns (unnamed ones included),
then the ordinary CASME II reader reads it back, so the real reader path is what runs.

``synth`` is generator version 1 (action units move pixels), byte for byte what it always
was, so its published rows keep their meaning; ``synth-v2`` is version 2 (action units also
change the skin's appearance), the same subjects and clips with the same budget, and a
benchmark (a leaderboard row) of its own.

``synth-casme2-size`` is version 1 at CASME II's size (255 clips of 26 subjects): the
workload of a real LOSO run, for timing the training stack without the licensed data.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from dataclasses import replace
from functools import partial

from benchmarks.datasets.casme2 import read_casme2
from benchmarks.records import DatasetIndex
from benchmarks.synthetic import (
    AppearanceConfig,
    SynthClip,
    SynthConfig,
    generated_folder,
    read_identity,
    save_frames,
    write_generated,
)
from registry import DATASETS

# The appearance model of synth-v2 (gain calibrated on the baselines:
# experiments/perf/results/synth_v2_calibration.md).
APPEARANCE_V2 = AppearanceConfig()
# CASME II's counts (255 clips, 26 subjects): clips per subject vary as there, and seed 58 is
# the first whose draws of them add up to 255.
CASME2_SIZE = SynthConfig(seed=58, subjects=26, clips_per_subject=(4, 16))
# Columns of the official sheet, in order; None is a header cell left empty.
SHEET_HEADER = [
    "Subject",
    "Filename",
    None,
    "OnsetFrame",
    "ApexFrame",
    "OffsetFrame",
    None,
    "Action Units",
    "Estimated Emotion",
]


def dataset_folder(cfg: SynthConfig, appearance: AppearanceConfig | None = None) -> Path:
    return generated_folder("synth" if appearance is None else "synth-v2", cfg, appearance)


def casme2_size_root() -> Path:
    return write_dataset(CASME2_SIZE, generated_folder("synth-casme2-size", CASME2_SIZE))


def write_dataset(cfg: SynthConfig, target: Path, appearance: AppearanceConfig | None = None) -> Path:
    """Generate ``cfg`` (version 2 if ``appearance`` is given) into ``target`` in CASME II's
    layout, atomically."""
    sheet = Workbook()
    rows = sheet.active
    rows.append(SHEET_HEADER)
    unreadable = cfg.unreadable_apex_fraction

    def write_clip(folder: Path, index: int, clip: SynthClip) -> None:
        save_frames(
            folder / "Cropped" / f"sub{clip.subject:02d}" / clip.name,
            clip,
            "reg_img{number}.jpg",
            cfg.jpeg_quality,
        )
        onset, offset = clip.first_frame, clip.first_frame + len(clip.frames) - 1
        apex = clip.first_frame + clip.apex_index
        # like the official sheet, a few apex cells hold '/' instead of a frame number
        apex_cell = "/" if unreadable and index % round(1 / unreadable) == 7 else apex
        rows.append(
            [clip.subject, clip.name, None, onset, apex_cell, offset, None, clip.action_units, clip.emotion]
        )

    return write_generated(
        cfg,
        appearance,
        target,
        write_clip,
        lambda folder: sheet.save(folder / "CASME2-coding-synth.xlsx"),
    )


def default_root(appearance: AppearanceConfig | None = None) -> Path:
    cfg = SynthConfig()
    return write_dataset(cfg, dataset_folder(cfg, appearance), appearance)


def read_synth(root: Path) -> DatasetIndex:
    """Synthetic CASME II-format clips from a real face with subtle, class-specific motion."""
    return replace(read_casme2(root, dataset="synth"), generator=read_identity(root))


def read_synth_casme2_size(root: Path) -> DatasetIndex:
    """``synth``'s generator at CASME II's size."""
    return replace(read_casme2(root, dataset="synth-casme2-size"), generator=read_identity(root))


def read_synth_v2(root: Path) -> DatasetIndex:
    """As ``synth``, plus each action unit's wrinkles, furrows and shading (generator version 2)."""
    return replace(read_casme2(root, dataset="synth-v2"), generator=read_identity(root))


CITATION = "mer-zoo synthetic benchmark (benchmarks/synthetic.py), generator version {}"
# synth is a quick, CPU-sized benchmark: every model runs it within these limits (a model
# registered smaller keeps its own) unless the command line says otherwise
BUDGET = {"epochs": 15, "input_size": 112}
# what every synth variant registers alike: its class sets, licence, generation and budget
SYNTH_ENTRY = dict(class_sets={"5": "casme2-5", "3": "casme2-3"}, restricted=False, generated=True, budget=BUDGET)

DATASETS.register(
    "synth",
    summary="Synthetic CASME II-format clips (12 subjects, 5 classes), generated on first use",
    citation=CITATION.format(1),
    **SYNTH_ENTRY,
    default_root=default_root,
)(read_synth)

DATASETS.register(
    "synth-v2",
    summary="synth with appearance: action units also wrinkle and shade the skin (same clips)",
    citation=CITATION.format(2),
    **SYNTH_ENTRY,
    default_root=partial(default_root, APPEARANCE_V2),
)(read_synth_v2)

DATASETS.register(
    "synth-casme2-size",
    summary="synth at CASME II's size (26 subjects, 255 clips), for timing a real-sized LOSO run",
    citation=CITATION.format(1),
    **SYNTH_ENTRY,
    default_root=casme2_size_root,
)(read_synth_casme2_size)
