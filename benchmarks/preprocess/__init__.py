"""Preprocessing: onset/apex frames and onset->apex optical flow, computed once and cached.

Every model and every fold reads the same cached tensors, so nothing is recomputed per fold
or epoch. The cache is a safetensors file keyed by the dataset fingerprint, the
preprocessing configuration and ``CODE_VERSION``; writes are atomic (temporary file, then
rename), so concurrent runs and interrupted runs never leave a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from benchmarks.files import atomic_write
from benchmarks.records import Clip, DatasetIndex
from registry.errors import ConfigError, DataError

CODE_VERSION = 1  # bump when the tensors computed for a given config change


def farneback_flow(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """Dense Farneback flow (fast); grey uint8 images in, (H, W, 2) float32 out."""
    return cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 3, 9, 5, 5, 1.1, 0)


def tvl1_flow(onset: np.ndarray, apex: np.ndarray) -> np.ndarray:
    """TV-L1 flow from OpenCV contrib: the flow most MER papers use (slower)."""
    return cv2.optflow.DualTVL1OpticalFlow_create().calc(onset, apex, None)


FLOW_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "farneback": farneback_flow,
    "tvl1": tvl1_flow,
}


@dataclass(frozen=True)
class PreprocessConfig:
    """``size``: side of the model's input. Flow is computed on frames of side ``flow_size``
    (micro-movements of about a pixel vanish if flow is computed on small frames), then
    area-averaged down to ``size`` with its vectors rescaled to that size's pixels."""

    size: int = 112
    flow: str = "farneback"
    flow_size: int = 128

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(f"input size {self.size} is too small; use at least 16")
        if self.flow not in FLOW_METHODS:
            raise ConfigError(f"unknown flow method '{self.flow}'; choose {', '.join(FLOW_METHODS)}")

    def key(self) -> str:
        blob = json.dumps({"code": CODE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Prepared:
    """Tensors for every clip of an index, row ``i`` belonging to ``keys[i]``.

    ``onset`` and ``apex`` are uint8 RGB ``(N, 3, S, S)``; ``flow`` is float32 ``(N, 2, S, S)``
    in pixels of the resized frame.
    """

    keys: tuple[str, ...]
    tensors: dict[str, torch.Tensor]
    path: Path

    def rows(self, keys: list[str]) -> dict[str, torch.Tensor]:
        where = {k: i for i, k in enumerate(self.keys)}
        index = torch.tensor([where[k] for k in keys], dtype=torch.long)
        return {name: tensor[index] for name, tensor in self.tensors.items()}


def read_rgb(path: Path, size: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}; the file is missing or not an image")
    return cv2.resize(image[..., ::-1], (size, size), interpolation=cv2.INTER_AREA)


def prepare_clip(clip: Clip, config: PreprocessConfig) -> dict[str, np.ndarray]:
    onset_big = read_rgb(clip.frame(clip.onset), config.flow_size)
    apex_big = read_rgb(clip.frame(clip.apex), config.flow_size)
    flow = FLOW_METHODS[config.flow](
        cv2.cvtColor(onset_big, cv2.COLOR_RGB2GRAY), cv2.cvtColor(apex_big, cv2.COLOR_RGB2GRAY)
    )
    shrink = (config.size, config.size)
    flow = cv2.resize(flow, shrink, interpolation=cv2.INTER_AREA) * (config.size / config.flow_size)
    return {
        "onset": read_rgb(clip.frame(clip.onset), config.size).transpose(2, 0, 1),
        "apex": read_rgb(clip.frame(clip.apex), config.size).transpose(2, 0, 1),
        "flow": flow.transpose(2, 0, 1).astype(np.float32),
    }


def cache_path(index: DatasetIndex, config: PreprocessConfig, cache_dir: Path) -> Path:
    return cache_dir / "prepared" / f"{index.name}-{index.fingerprint()}-{config.key()}.safetensors"


def prepare(
    index: DatasetIndex,
    config: PreprocessConfig,
    cache_dir: Path,
    on_clip: Callable[[int, int], None] | None = None,
) -> Prepared:
    """Cached tensors for ``index``; computed only when no cache matches."""
    path = cache_path(index, config, cache_dir)
    keys = tuple(clip.key for clip in index.clips)
    if path.is_file():
        with safe_open(str(path), "pt") as cached:
            stored = tuple(json.loads(cached.metadata()["keys"]))
        if stored == keys:
            return Prepared(keys, load_file(path), path)
    per_clip = []
    for i, clip in enumerate(index.clips):
        per_clip.append(prepare_clip(clip, config))
        if on_clip:
            on_clip(i + 1, len(index.clips))
    tensors = {
        name: torch.from_numpy(np.ascontiguousarray(np.stack([c[name] for c in per_clip])))
        for name in per_clip[0]
    }
    metadata = {"config": json.dumps(asdict(config)), "keys": json.dumps(keys)}
    atomic_write(path, lambda p: save_file(tensors, str(p), metadata=metadata))
    return Prepared(keys, tensors, path)
