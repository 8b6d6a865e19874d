"""Benchmark ``zoo data prepare`` on a CASME II-sized copy: 255 clips of 640x480 frames.

Writes a fixture in CASME II's raw layout (coding sheet with its unnamed columns,
``CASME2_RAW_selected/subNN/EPxx/imgN.jpg``; each clip holds 5 frames around its
onset/apex/offset instead of ~70, because only those three frames are read), then times
the real command line twice: cold (computing the cache, Farneback flow, 2 workers) and
warm (the cache exists). Results go to ``experiments/perf/results/data_prepare.json``.

    python -m experiments.perf.data_prepare [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from openpyxl import Workbook
from skimage.data import astronaut

CLIPS, SUBJECTS, WIDTH, HEIGHT, FRAMES_PER_CLIP = 255, 26, 640, 480, 5
EMOTIONS = ["happiness"] * 32 + ["disgust"] * 63 + ["repression"] * 27 + ["surprise"] * 28 + \
    ["others"] * 99 + ["fear"] * 2 + ["sadness"] * 4
HEADER = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None,
          "Action Units", "Estimated Emotion"]
RESULTS = Path(__file__).parent / "results" / "data_prepare.json"


def write_fixture(root: Path, seed: int = 0) -> None:
    """A face photo on a 640x480 canvas, shifted by a fraction of a pixel per frame."""
    rng = np.random.default_rng(seed)
    face = cv2.resize(astronaut()[..., ::-1], (360, 360), interpolation=cv2.INTER_AREA)
    canvas = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    canvas[60:420, 140:500] = face
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for i in range(CLIPS):
        subject, name = i % SUBJECTS + 1, f"EP{i // SUBJECTS + 1:02d}_{i:03d}"
        onset = int(rng.integers(1, 200))
        folder = root / "CASME2_RAW_selected" / f"sub{subject:02d}" / name
        folder.mkdir(parents=True)
        for k in range(FRAMES_PER_CLIP):
            shift = np.float32([[1, 0, 0.3 * k], [0, 1, -0.2 * k]])
            frame = cv2.warpAffine(canvas, shift, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
            cv2.imwrite(str(folder / f"img{onset + k}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        sheet.append([subject, name, None, onset, onset + 2, onset + FRAMES_PER_CLIP - 1, None,
                      "AU4", EMOTIONS[i]])
    book.save(root / "CASME2-coding-perf.xlsx")


def timed_prepare(root: Path, cache: Path, workers: int) -> float:
    env = {**os.environ, "ZOO_CACHE": str(cache)}
    started = time.perf_counter()
    subprocess.run(["zoo", "data", "prepare", "casme2", "--root", str(root), "--flow", "farneback",
                    "--workers", str(workers)], env=env, check=True)
    return round(time.perf_counter() - started, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="write the fixture and cache here and keep them")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="zoo-perf-"))
    root, cache = base / "casme2", base / "cache"
    started = time.perf_counter()
    write_fixture(root)
    fixture_s = round(time.perf_counter() - started, 1)
    cold = timed_prepare(root, cache, args.workers)
    warm = timed_prepare(root, cache, args.workers)
    result = {
        "benchmark": "zoo data prepare casme2 (Farneback, size 112, flow_size 128, crop none)",
        "fixture": {"clips": CLIPS, "subjects": SUBJECTS, "frame_size": [WIDTH, HEIGHT],
                    "frames_per_clip": FRAMES_PER_CLIP, "seconds_to_write": fixture_s},
        "workers": args.workers,
        "cold_s": cold,
        "warm_s": warm,
        "targets": {"cold_s": 180, "warm_s": 5},
        "met": cold < 180 and warm < 5,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
