"""``synth``: the embedded default dataset, generated on first use in CASME II's format.

The generator (``benchmarks/synthetic.py``) writes ``Cropped/subNN/<clip>/reg_img<n>.jpg``
and a ``CASME2-coding-synth.xlsx`` sheet with CASME II's columns (unnamed ones included),
then the ordinary CASME II reader reads it back, so the real reader path is what runs.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from benchmarks.datasets.casme2 import read_casme2
from benchmarks.records import DatasetIndex
from benchmarks.synthetic import SynthClip, SynthConfig, generated_folder, save_frames, write_generated
from registry import DATASETS

GENERATOR_VERSION = 1
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


def dataset_folder(cfg: SynthConfig) -> Path:
    return generated_folder("synth", GENERATOR_VERSION, cfg)


def write_dataset(cfg: SynthConfig, target: Path) -> Path:
    """Generate ``cfg`` into ``target`` in CASME II's layout, atomically."""
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
        GENERATOR_VERSION,
        target,
        write_clip,
        lambda folder: sheet.save(folder / "CASME2-coding-synth.xlsx"),
    )


def default_root() -> Path:
    cfg = SynthConfig()
    return write_dataset(cfg, dataset_folder(cfg))


def read_synth(root: Path) -> DatasetIndex:
    """Synthetic CASME II-format clips from a real face with subtle, class-specific motion."""
    return read_casme2(root, dataset="synth")


DATASETS.register(
    "synth",
    summary="Synthetic CASME II-format clips (12 subjects, 5 classes), generated on first use",
    citation=f"mer-zoo synthetic benchmark (benchmarks/synthetic.py), generator version {GENERATOR_VERSION}",
    class_sets={"5": "casme2-5", "3": "casme2-3"},
    restricted=False,
    generated=True,
    default_root=default_root,
    # synth is a quick, CPU-sized benchmark: every model runs it at this budget unless the
    # command line says otherwise, so its leaderboard compares models at equal cost
    budget={"epochs": 15, "input_size": 112},
)(read_synth)
