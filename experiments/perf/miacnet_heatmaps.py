"""The picture of MIACNet's heat maps in ``docs/images/miacnet-heatmaps.png``: where the position
and action branches look, for one test clip per class.

One MIACNet (width 16) is trained on the ``holdout`` fold of ``synth-v2`` (seed 0) with its
weights kept, as ``zoo bench ... --save-weights`` does; 60 epochs instead of the synth budget's
15, because at 15 the model predicts nearly every clip as ``others`` and its maps show nothing
learnt. For each class the first correctly predicted test clip is drawn (else the class's first
clip, labelled with what the model said), through ``zoo explain`` as a user would.

    python -m experiments.perf.miacnet_heatmaps [--work /tmp/miacnet-heatmaps]
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np

from leaderboard.store import read_result

ROOT = Path(__file__).resolve().parents[2]
PICTURE = ROOT / "docs" / "images" / "miacnet-heatmaps.png"
BENCH = ["miacnet", "--dataset", "synth-v2", "--protocol", "holdout", "--seed", "0", "--opt", "width=16",
         "--opt", "fusion=sum", "--epochs", "60", "--save-weights", "--device", "cpu"]
TILE = 160


def trained_run(work: Path) -> Path:
    """The hold-out run's result file, trained once (``zoo bench`` reuses a finished fold)."""
    runs = work / "runs"
    subprocess.run(["zoo", "bench", *BENCH, "--out", str(runs)], check=True, env={**os.environ, "COLUMNS": "120"})
    (result,) = runs.glob("miacnet__synth-v2__*.json")
    return result


def clip_per_class(result: dict) -> list[tuple[str, str, str]]:
    """(class, clip, predicted class) for each class with a test clip, correct predictions first."""
    classes = result["dataset"]["classes"]
    samples = [s for fold in result["folds"] for s in fold["samples"]]
    chosen = []
    for label, name in enumerate(classes):
        of_class = [s for s in samples if s["label"] == label]
        if of_class:
            best = next((s for s in of_class if s["prediction"] == label), of_class[0])
            chosen.append((name, best["clip"], classes[best["prediction"]]))
    return chosen


def tile(path: Path, caption: str) -> np.ndarray:
    image = cv2.resize(cv2.imread(str(path)), (TILE, TILE))
    if not caption:
        return image
    band = np.full((36, TILE, 3), 255, np.uint8)
    cv2.putText(band, caption, (4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([band, image])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/miacnet-heatmaps"), help="Run and maps go here.")
    args = parser.parse_args()
    result_file = trained_run(args.work)
    result = read_result(result_file)
    maps = args.work / "maps"
    chosen = clip_per_class(result)
    rows = []
    for branch in ("position", "action"):
        tiles = []
        for name, clip, predicted in chosen:
            subprocess.run(["zoo", "explain", "miacnet", str(result_file), clip, "--out", str(maps)], check=True)
            png = maps / f"{result['run_id']}-{clip.replace('/', '_')}-{branch}.png"
            tiles.append(tile(png, f"{name} -> {predicted}" if branch == "position" else ""))
        row = np.hstack(tiles)
        side = np.full((row.shape[0], 80, 3), 255, np.uint8)
        cv2.putText(side, branch, (4, row.shape[0] // 2 + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.hstack([side, row]))
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(PICTURE), np.vstack(rows))
    fold = result["folds"][0]
    print(f"{PICTURE} from run {result['run_id']} (hold-out UF1 {fold['metrics']['uf1']:.3f}, "
          f"test subjects {', '.join(fold['test_subjects'])})")


if __name__ == "__main__":
    main()
