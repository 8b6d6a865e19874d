"""``synth``: the embedded default dataset, generated on first use in CASME II's format.

The generator (``benchmarks/synthetic.py``) writes ``Cropped/subNN/<clip>/reg_img<n>.jpg``
and a ``CASME2-coding-synth.xlsx`` sheet with CASME II's columns (unnamed ones included),
then the ordinary CASME II reader reads it back, so the real reader path is what runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import cv2
from openpyxl import Workbook

from benchmarks.datasets.casme2 import read_casme2
from benchmarks.records import DatasetIndex
from benchmarks.synthetic import FaceSource, SynthConfig, generate_clips
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


def cache_home() -> Path:
    """Root of every generated dataset and preprocessing cache (``$ZOO_CACHE``)."""
    return Path(os.environ.get("ZOO_CACHE", Path.home() / ".cache" / "mer-zoo")).expanduser()


def dataset_folder(cfg: SynthConfig) -> Path:
    blob = json.dumps({"version": GENERATOR_VERSION, **cfg.to_dict()}, sort_keys=True)
    return cache_home() / "synth" / f"seed{cfg.seed}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"


def write_dataset(cfg: SynthConfig, target: Path) -> Path:
    """Generate ``cfg`` into ``target`` atomically (a temporary folder renamed into place), so
    concurrent or interrupted runs never see a half-written dataset."""
    if (target / "generator.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        sheet = Workbook()
        rows = sheet.active
        rows.append(SHEET_HEADER)
        unreadable = cfg.unreadable_apex_fraction
        for index, clip in enumerate(generate_clips(cfg, FaceSource())):
            folder = tmp / "Cropped" / f"sub{clip.subject:02d}" / clip.name
            folder.mkdir(parents=True)
            for i, frame in enumerate(clip.frames):
                cv2.imwrite(
                    str(folder / f"reg_img{clip.first_frame + i}.jpg"),
                    frame[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality],
                )
            onset, offset = clip.first_frame, clip.first_frame + len(clip.frames) - 1
            apex = clip.first_frame + clip.apex_index
            # like the official sheet, a few apex cells hold '/' instead of a frame number
            apex_cell = "/" if unreadable and index % round(1 / unreadable) == 7 else apex
            rows.append(
                [
                    clip.subject,
                    clip.name,
                    None,
                    onset,
                    apex_cell,
                    offset,
                    None,
                    clip.action_units,
                    clip.emotion,
                ]
            )
        sheet.save(tmp / "CASME2-coding-synth.xlsx")
        (tmp / "generator.json").write_text(
            json.dumps({"version": GENERATOR_VERSION, **cfg.to_dict()}, indent=1)
        )
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; its copy is identical
            if not (target / "generator.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


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
