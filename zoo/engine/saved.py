"""A fold's final model as a file: its weights plus what predicting with them needs.

``zoo bench --save-weights`` writes one per fold; ``zoo explain`` and ``zoo push`` read them.
The safetensors metadata names the model, its options and class count (so the registry
rebuilds it) and the input normaliser fitted on the fold's training subjects, so the
rebuilt model predicts exactly what the run recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch.nn as nn

from registry import MODELS
from registry.errors import CheckpointError
from zoo.engine.trainer import FoldOutcome, InputNormalizer
from zoo.models import create_model
from zoo.io.weights import checkpoint_meta, load_weights, save_checkpoint

KIND = "fold"


def save_fold_weights(
    path: Path,
    outcome: FoldOutcome,
    *,
    run_id: str,
    fold: str,
    test_subjects: list[str],
    model: str,
    options: dict[str, Any],
    num_classes: int,
) -> Path:
    meta = {
        "kind": KIND,
        "run_id": run_id,
        "fold": fold,
        "test_subjects": list(test_subjects),
        "model": model,
        "options": options,
        "num_classes": num_classes,
        "normalizer": outcome.normalizer,
    }
    return save_checkpoint(path, outcome.weights, meta)


def fold_meta(path: Path) -> dict:
    meta = checkpoint_meta(path)
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{path} is not a saved fold of a mer-zoo run (zoo bench --save-weights)")
    return meta


def rebuild(model: str, num_classes: int, options: dict[str, Any]) -> nn.Module:
    """The architecture alone: a model's ``scratch_options`` (MIACNet: ``init=scratch``) keep
    it from fetching initial weights that the saved ones replace anyway."""
    scratch = MODELS.get(model).meta.get("scratch_options", {})
    return create_model(model, num_classes, **{**options, **scratch})


def load_fold_model(path: Path) -> tuple[nn.Module, InputNormalizer, dict]:
    """The saved fold's model (eval mode, every tensor loaded), its input normaliser and metadata."""
    meta = fold_meta(path)
    net = rebuild(meta["model"], meta["num_classes"], meta["options"])
    load_weights(net, path)
    return net.eval(), InputNormalizer.from_state(meta["normalizer"]), meta
