"""What does MA2MI learn? A linear probe on MIACNet's frozen action-branch features.

For every clip of a dataset, the action branch of a MIACNet (random initialisation, or an
MA2MI checkpoint's weights) encodes the onset -> apex change; its map is averaged to a
``grid x grid`` of cells and flattened. A logistic regression (standardised features,
scikit-learn) is fitted on the training subjects of each LOSO fold and predicts the test
subject; predictions of all folds are pooled into UF1/UAR by ``benchmarks/metrics.py``,
exactly as a benchmark run's are. The branch is never trained here, so the probe measures
what its weights already separate.

    python -m experiments.perf.ma2mi_probe --dataset synth-v2 --opt width=16 \\
        [--checkpoint ma2mi-synth-macro|PATH] [--seed 0]

Prints the result and writes ``results/ma2mi_probe__<dataset>__<init>__seed<seed>.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.datasets import class_set_for, load_dataset
from benchmarks.files import atomic_write_json, cache_home
from benchmarks.metrics import summarize
from benchmarks.preprocess import PreprocessConfig, prepare
from benchmarks.protocols.loso import loso_folds
from zoo.bench import select_samples
from zoo.engine.trainer import IMAGENET_MEAN, IMAGENET_STD
from registry.options import model_options
from zoo.models import create_model
from zoo.models.miacnet import MIACNet
from zoo.pretrain.checkpoints import checkpoint_file, load_pretrained, pretrained_for

HERE = Path(__file__).parent
BATCH = 32


@torch.no_grad()
def action_features(model: MIACNet, onset: torch.Tensor, apex: torch.Tensor, grid: int = 2) -> np.ndarray:
    """(N, channels * grid * grid) features of uint8 RGB frames (N, 3, S, S), normalised as the
    trainer normalises them; the model is put in eval mode (frozen batch-norm statistics)."""
    model.eval()

    def normalized(frames: torch.Tensor) -> torch.Tensor:
        return (frames.float() / 255 - IMAGENET_MEAN) / IMAGENET_STD

    chunks = [
        F.adaptive_avg_pool2d(model.action(normalized(onset[i : i + BATCH]), normalized(apex[i : i + BATCH])), grid)
        for i in range(0, len(onset), BATCH)
    ]
    return torch.cat(chunks).flatten(1).numpy()


def linear_probe(features: np.ndarray, labels: list[int], subjects: list[str], classes: tuple[str, ...],
                 seed: int = 0) -> dict:
    """LOSO logistic regression on fixed features: per-fold test predictions and pooled metrics."""
    folds, predictions = [], np.zeros(len(labels), dtype=int)
    y = np.asarray(labels)
    for fold in loso_folds(subjects, seed):
        train, test = list(fold.train), list(fold.test)
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
        predictions[test] = probe.fit(features[train], y[train]).predict(features[test])
        folds.append({"name": fold.name, "train_subjects": sorted({subjects[i] for i in train}),
                      "test_subjects": list(fold.test_subjects), "test": test})
    metrics = summarize(labels, predictions.tolist(), classes)
    return {"uf1": metrics["uf1"], "uar": metrics["uar"], "metrics": metrics, "folds": folds,
            "predictions": predictions.tolist(), "feature_dim": int(features.shape[1])}


def probe_dataset(dataset: str, options: dict, checkpoint: str | None = None, seed: int = 0,
                  input_size: int = 112, grid: int = 2, data_root: Path | None = None) -> dict:
    """Probe a MIACNet's action branch (seeded random init, or ``checkpoint``: a path or a
    registered name, resolved as ``zoo bench --pretrained`` resolves it) on ``dataset``."""
    index = load_dataset(dataset, data_root)
    class_set = class_set_for(dataset)
    keys, labels, subjects = select_samples(index, class_set)
    checkpoint, options = pretrained_for("miacnet", model_options("miacnet", options), checkpoint)
    torch.manual_seed(seed)
    model = create_model("miacnet", class_set.num_classes, **options)
    source = None
    if checkpoint:
        source = checkpoint_file(checkpoint, options)
        load_pretrained(model, source)
    rows = prepare(index, PreprocessConfig(size=input_size), cache_home()).rows(keys)
    features = action_features(model, rows["onset"], rows["apex"], grid)
    result = linear_probe(features, labels, subjects, class_set.classes, seed)
    return {"dataset": dataset, "fingerprint": index.fingerprint(), "class_set": class_set.name,
            "model_options": options, "init": "ma2mi" if checkpoint else "random", "checkpoint": str(source or ""),
            "seed": seed, "input_size": input_size, "grid": grid, "clips": keys, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synth-v2")
    parser.add_argument("--checkpoint", help="MA2MI checkpoint PATH or registered name; default: random init")
    parser.add_argument("--opt", action="append", default=["width=16"], help="MIACNet option KEY=VALUE")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from zoo.cli.bench import parse_options

    result = probe_dataset(args.dataset, parse_options(args.opt), args.checkpoint, args.seed)
    out = HERE / "results" / f"ma2mi_probe__{args.dataset}__{result['init']}__seed{args.seed}.json"
    atomic_write_json(out, result)
    print(json.dumps({k: result[k] for k in ("dataset", "init", "seed", "uf1", "uar", "feature_dim")}), "->", out)


if __name__ == "__main__":
    main()
