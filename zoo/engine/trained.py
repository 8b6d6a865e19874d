"""A model trained on every subject (``zoo train``) as a folder, and what predicts with it.

The folder holds ``model.safetensors`` (the weights; nothing is ever unpickled) and
``config.json``: the model, its options and classes, the inputs it reads, the preprocessing
that made them (flow algorithm, size, crop: the same code as ``zoo bench``), the input scaling
fitted on the training subjects, the training data's fingerprint, the recipe and its sources,
and the package versions. :func:`load_trained` rebuilds the model from it through the registry
and returns a :class:`Preprocess` that computes a new clip's inputs exactly as training did. A
pushed folder (``zoo push``) pulled from the Hub has the same two files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn as nn

from benchmarks.datasets import load_dataset
from benchmarks.files import atomic_write_json, cache_home
from benchmarks.preprocess import PreprocessConfig, prepare, prepare_clip, provided_inputs
from benchmarks.records import Clip
from registry.errors import CheckpointError, ConfigError, DataError
from zoo.engine.trainer import FoldData, InputNormalizer, predict
from zoo.engine.saved import rebuild
from zoo.io.weights import load_weights, save_checkpoint

CONFIG, WEIGHTS = "config.json", "model.safetensors"
KIND = "model"
SCHEMA, SCHEMA_VERSION = "mer-zoo/checkpoint", 1  # one schema with pushed checkpoints (zoo.hub.repo)
LIBRARY = "mer-zoo"
FRAMES = "frames"  # inputs computed from a clip's frames (not released by a dataset as tensors)


def head_free_keys(model: str, options: dict[str, Any], num_classes: int) -> list[str]:
    """The weights whose shapes do not depend on the class count: what a fine-tuning on other
    classes can take from this model (its classifier head is new)."""
    one, other = (rebuild(model, n, options).state_dict() for n in (num_classes, num_classes + 1))
    return [k for k, v in one.items() if other[k].shape == v.shape]


def save_trained(folder: Path, weights: dict[str, torch.Tensor], config: dict) -> Path:
    """Write the weights, then ``config.json`` (its presence marks a finished folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "kind": KIND,
        "model": config["model"],
        "model_options": config["options"],
        "num_classes": config["num_classes"],
        "covers": head_free_keys(config["model"], config["options"], config["num_classes"]),
        # what --pretrained records of a checkpoint: made how, on which subjects
        "pretrainer": "zoo train",
        "corpus": config["dataset"],
        "epochs_done": config["hyperparameters"]["epochs"],
        "config": config["hyperparameters"],
        "subjects": config["subjects"],
        "same_subjects_as": [config["dataset"]],
    }
    save_checkpoint(folder / WEIGHTS, weights, meta)
    atomic_write_json(folder / CONFIG, {"library_name": LIBRARY, "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
                                        "kind": KIND, **config})
    return folder


def read_trained_config(folder: Path) -> dict:
    """The ``config.json`` of a trained-model folder, checked to be one."""
    path = Path(folder) / CONFIG
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder} is not a model folder of zoo train: it has no {CONFIG}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not readable JSON ({exc}); train or pull it again") from None
    if not isinstance(config, dict) or config.get("schema") != SCHEMA or config.get("kind") != KIND:
        raise CheckpointError(f"{path}: not the config of a model trained by zoo train (kind '{KIND}')")
    if config.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(f"{path}: schema version {config.get('schema_version')} is not supported "
                              f"(this mer-zoo reads {SCHEMA_VERSION}); upgrade mer-zoo")
    return config


@dataclass(frozen=True)
class Preprocess:
    """A trained model's inputs from a clip, computed as its training computed them, and the
    names of its outputs (``classes``)."""

    classes: tuple[str, ...]
    keys: tuple[str, ...]
    preprocessing: PreprocessConfig
    source: str  # FRAMES, or the dataset whose released tensors the model was trained on
    normalizer: InputNormalizer

    def frames(self, onset: Path, apex: Path, offset: Path | None = None) -> dict[str, torch.Tensor]:
        """The inputs of one clip given by its frames (a batch of one, before scaling)."""
        if self.source != FRAMES:
            raise ConfigError(
                f"this model was trained on {self.source}'s released inputs ({', '.join(self.keys)} at "
                f"{self.preprocessing.size} px), which frames cannot give; predict with --dataset {self.source} "
                "--data-root DIR"
            )
        paths = {"onset": Path(onset), "apex": Path(apex), **({"offset": Path(offset)} if offset else {})}
        shapes = {}
        for name, path in paths.items():
            if not path.is_file():
                raise DataError(f"{name} frame {path} does not exist; give the path of an image file")
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise DataError(f"{name} frame {path} is not a readable image; give a JPEG, PNG or BMP frame")
            shapes[name] = image.shape[:2]
        odd = [n for n in shapes if shapes[n] != shapes["onset"]]
        if odd:
            (height, width), name = shapes[odd[0]], odd[0]
            raise DataError(f"{name} frame {paths[name]} is {width}x{height} but the onset frame {paths['onset']} is "
                            f"{shapes['onset'][1]}x{shapes['onset'][0]}; give frames of one clip, of one size")
        numbers = {"onset": 0, "apex": 1, "offset": 2}
        clip = Clip(dataset="", subject="", clip=paths["apex"].stem, emotion="", onset=0, apex=1,
                    offset=2 if offset else 1, frames={numbers[n]: p for n, p in paths.items()})
        tensors = prepare_clip(clip, self.preprocessing)
        return {k: torch.from_numpy(np.ascontiguousarray(tensors[k]))[None] for k in self.keys}

    def dataset(self, name: str, root: Path | None) -> tuple[list[Clip], dict[str, torch.Tensor]]:
        """Every clip of a dataset and their inputs (before scaling), through its preprocessing cache."""
        provided = provided_inputs(name)
        wanted = FRAMES if provided.prepare_clip is None else name
        if wanted != self.source:
            given = "frames" if wanted == FRAMES else f"{name}'s released inputs"
            trained = "frames" if self.source == FRAMES else f"{self.source}'s released inputs"
            raise ConfigError(f"this model was trained on {trained}; {name} gives {given}, which it cannot read")
        index = load_dataset(name, root)
        prepared = prepare(index, self.preprocessing, cache_home())
        keys = [clip.key for clip in index.clips]
        return list(index.clips), {k: v for k, v in prepared.rows(keys).items() if k in self.keys}


def load_trained(folder: Path) -> tuple[nn.Module, Preprocess, dict]:
    """The model of a trained-model folder (eval mode, every tensor loaded), its :class:`Preprocess`
    and its config."""
    config = read_trained_config(folder)
    model = rebuild(config["model"], config["num_classes"], config["options"])
    load_weights(model, Path(folder) / WEIGHTS)
    inputs = config["inputs"]
    preprocess = Preprocess(
        tuple(config["classes"]),
        tuple(model.inputs.keys),
        PreprocessConfig(**config["preprocessing"]),
        inputs["source"],
        InputNormalizer.from_state(config["normalizer"]),
    )
    return model.eval(), preprocess, config


def probabilities(model: nn.Module, preprocess: Preprocess, inputs: dict[str, torch.Tensor],
                  batch_size: int = 64) -> torch.Tensor:
    """Class probabilities of a batch of unscaled inputs (CPU, float32)."""
    data = FoldData(inputs, torch.zeros(len(next(iter(inputs.values()))), dtype=torch.long), ())
    return predict(model, data, preprocess.normalizer, torch.device("cpu"), batch_size, "fp32")
