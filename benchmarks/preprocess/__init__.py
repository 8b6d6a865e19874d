"""Preprocessing: face crop, onset/apex/offset frames, optical flow and derived channels,
computed once per dataset and configuration and cached.

Every model and every fold reads the same cached tensors, so nothing is recomputed per fold
or epoch. The cache is a safetensors file keyed by the dataset fingerprint (annotations and
the size/mtime of every frame used), the preprocessing configuration and ``CODE_VERSION``.
Writes are atomic (temporary file, then rename), the file carries a checksum (a damaged one
is reported and recomputed), and a lock file makes a second concurrent run wait for the
first, saying for which process, instead of computing the same cache again. Clips are
processed by a pool of worker processes, one per core by default.

A dataset released as precomputed inputs rather than frames declares so in its registry
meta (``provides``, a :class:`ProvidedInputs` with its own ``prepare_clip``); the cache
then runs that hook in place of the frame pipeline and caches its tensors the same way.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.files import remove_temporaries
from benchmarks.integrity import load_tensors, save_tensors
from benchmarks.locks import file_lock
from benchmarks.records import FRAME_INPUTS, Clip, DatasetIndex, InputSpec, ProvidedInputs
from registry import DATASETS
from registry.errors import ConfigError, DataError

CODE_VERSION = 2  # bump when the tensors computed for a given config change


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


CROP_METHODS = ("none", "detect")


@dataclass(frozen=True)
class PreprocessConfig:
    """``size``: side of the model's input. Flow is computed on frames of side ``flow_size``
    (micro-movements of about a pixel vanish if flow is computed on small frames), then
    area-averaged down to ``size`` with its vectors rescaled to that size's pixels.
    ``crop``: "none" for releases whose frames are already cropped faces (CASME II
    ``Cropped``, SAMM, synth), "detect" to find the face on the onset frame and crop every
    frame of the clip to that box (see :func:`face_box`)."""

    size: int = 112
    flow: str = "farneback"
    flow_size: int = 128
    crop: str = "none"

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(f"input size {self.size} is too small; use at least 16")
        if self.flow not in FLOW_METHODS:
            raise ConfigError(f"unknown flow method '{self.flow}'; choose {', '.join(FLOW_METHODS)}")
        if self.crop not in CROP_METHODS:
            raise ConfigError(f"unknown crop '{self.crop}'; choose {', '.join(CROP_METHODS)}")

    def key(self) -> str:
        blob = json.dumps({"code": CODE_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Prepared:
    """Tensors for every clip of an index, row ``i`` belonging to ``keys[i]``.

    ``onset``, ``apex`` and ``offset`` are uint8 RGB ``(N, 3, S, S)``; ``flow`` is float32
    ``(N, 2, S, S)`` onset->apex in pixels of the resized frame; ``magnitude`` and
    ``strain`` (optical strain of that flow) are float32 ``(N, 1, S, S)``; ``diff`` is the
    grey apex-onset difference in [-1, 1], float32 ``(N, 1, S, S)``; ``face_found`` (N,)
    is 1 where a face was detected (always 1 with ``crop="none"``), 0 where the whole frame
    was used instead.
    """

    keys: tuple[str, ...]
    tensors: dict[str, torch.Tensor]
    path: Path

    def rows(self, keys: list[str]) -> dict[str, torch.Tensor]:
        where = {k: i for i, k in enumerate(self.keys)}
        index = torch.tensor([where[k] for k in keys], dtype=torch.long)
        return {name: tensor[index] for name, tensor in self.tensors.items()}


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"cannot read image {path}; the file is missing or not an image")
    return np.ascontiguousarray(image[..., ::-1])


def resized(image: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1)
def face_detector():
    """scikit-image's LBP frontal-face cascade: its model file ships inside the installed
    scikit-image wheel, so nothing is downloaded at run time (OpenCV 5 wheels ship no
    cascades). It gives a box, no landmarks."""
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def face_box(rgb: np.ndarray, margin: float = 0.25,
             search_side: int = 320) -> tuple[int, int, int, int] | None:
    """Square box (top, left, bottom, right) around the largest face, widened by ``margin``
    on each side (the cascade's box stops at brows and chin), or ``None`` if no face."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = search_side / max(grey.shape)
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    short = min(small.shape)
    found = face_detector().detect_multi_scale(
        img=small, scale_factor=1.2, step_ratio=1, min_size=(short // 6, short // 6),
        max_size=(short, short))
    if not found:
        return None
    face = max(found, key=lambda f: f["width"] * f["height"])
    side = max(face["width"], face["height"]) * (1 + 2 * margin) / scale
    centre_r = (face["r"] + face["height"] / 2) / scale
    centre_c = (face["c"] + face["width"] / 2) / scale
    side = min(side, *grey.shape)
    top = int(np.clip(centre_r - side / 2, 0, grey.shape[0] - side))
    left = int(np.clip(centre_c - side / 2, 0, grey.shape[1] - side))
    return top, left, top + int(side), left + int(side)


def optical_strain(flow: np.ndarray) -> np.ndarray:
    """Magnitude of the optical strain tensor of a (H, W, 2) flow (Liong et al., 2014)."""
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    shear = 0.5 * (du_dy + dv_dx)
    return np.sqrt(du_dx**2 + dv_dy**2 + 2 * shear**2)


def prepare_clip(clip: Clip, config: PreprocessConfig) -> dict[str, np.ndarray]:
    """Every cached tensor of one clip (channels first)."""
    # a missing offset frame was warned about on reading; the apex stands in for it
    numbers = {"onset": clip.onset, "apex": clip.apex,
               "offset": clip.offset if clip.offset in clip.frames else clip.apex}
    frames = {name: read_rgb(clip.frame(number)) for name, number in numbers.items()}
    box = face_box(frames["onset"]) if config.crop == "detect" else None
    if box is not None:
        top, left, bottom, right = box
        frames = {name: image[top:bottom, left:right] for name, image in frames.items()}
    onset_big, apex_big = (cv2.cvtColor(resized(frames[n], config.flow_size), cv2.COLOR_RGB2GRAY)
                           for n in ("onset", "apex"))
    flow = FLOW_METHODS[config.flow](onset_big, apex_big)
    shrink = (config.size, config.size)
    flow = cv2.resize(flow, shrink, interpolation=cv2.INTER_AREA) * (config.size / config.flow_size)
    small = {name: resized(image, config.size) for name, image in frames.items()}
    grey = {n: cv2.cvtColor(small[n], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255 for n in ("onset", "apex")}
    return {
        **{name: image.transpose(2, 0, 1) for name, image in small.items()},
        "flow": flow.transpose(2, 0, 1).astype(np.float32),
        "magnitude": np.linalg.norm(flow, axis=2)[None].astype(np.float32),
        "strain": optical_strain(flow)[None].astype(np.float32),
        "diff": (grey["apex"] - grey["onset"])[None],
        "face_found": np.array(config.crop == "none" or box is not None, dtype=np.uint8),
    }


def provided_inputs(dataset: str) -> ProvidedInputs:
    """What ``dataset`` gives the cache: its registry meta ``provides``, frames by default
    (also for an index that is not a registered dataset)."""
    return DATASETS.get(dataset).meta.get("provides", FRAME_INPUTS) if dataset in DATASETS else FRAME_INPUTS


def check_inputs(model: str, wanted: InputSpec, dataset: str,
                 provided: ProvidedInputs) -> tuple[int, str] | None:
    """Fail unless ``dataset`` provides what ``model`` reads; return the fixed input side and
    whose it is (the model's or the dataset's), or ``None`` if the run's input size applies."""
    missing = [k for k in wanted.keys if k not in provided.keys]
    if missing:
        raise ConfigError(
            f"model {model} reads {', '.join(wanted.keys)} but dataset {dataset} provides only "
            f"{', '.join(provided.keys)} (no {', '.join(missing)}); choose a model that reads "
            f"what {dataset} provides, or a frame dataset"
        )
    if wanted.size and provided.size and wanted.size != provided.size:
        raise ConfigError(
            f"model {model} takes {wanted.size} px inputs but dataset {dataset} provides only "
            f"{provided.size} px; choose a frame dataset, which can be prepared at any size"
        )
    if wanted.size:
        return wanted.size, f"model {model} inputs (fixed {wanted.size} px)"
    if provided.size:
        return provided.size, f"dataset {dataset} inputs (released at {provided.size} px)"
    return None


def cache_path(index: DatasetIndex, config: PreprocessConfig, cache_dir: Path) -> Path:
    return cache_dir / "prepared" / f"{index.name}-{index.fingerprint()}-{config.key()}.safetensors"


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock next to ``path`` so concurrent runs compute a cache only once
    (a waiting run says for whom it waits); clears what a killed holder's write left."""
    with file_lock(path.with_name(path.name + ".lock"), f"the preprocessing cache {path.name}", wait=True):
        remove_temporaries(path)
        yield


def load_cached(path: Path, keys: tuple[str, ...], report: bool = True) -> Prepared | None:
    """The cache at ``path`` if it is intact and holds ``keys``; damage is reported if ``report``."""
    loaded = load_tensors(path, report)
    if loaded is None:
        return None
    tensors, metadata = loaded
    return Prepared(keys, tensors, path) if tuple(json.loads(metadata["keys"])) == keys else None


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one clip per process; OpenCV's own threads would oversubscribe


ClipPreparer = Callable[[Clip, PreprocessConfig], dict[str, np.ndarray]]


def _prepare_one(job: tuple[Clip, PreprocessConfig, ClipPreparer | None]) -> dict[str, np.ndarray]:
    clip, config, hook = job
    return (hook or prepare_clip)(clip, config)


def compute(clips: tuple[Clip, ...], config: PreprocessConfig, workers: int,
            on_clip: Callable[[int, int], None] | None,
            hook: ClipPreparer | None = None) -> list[dict[str, np.ndarray]]:
    """``prepare_clip`` (or a dataset's own ``hook``) over all clips, in order, on
    ``workers`` processes."""
    jobs = [(clip, config, hook) for clip in clips]
    if workers <= 1 or len(jobs) < 2:
        results = map(_prepare_one, jobs)
        pool = None
    else:
        # spawn, not fork: a child forked after OpenCV or OpenMP started their thread pools
        # can deadlock on their inherited locks (seen here as a silent hang)
        pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), _init_worker)
        results = pool.imap(_prepare_one, jobs, chunksize=max(1, len(jobs) // (workers * 8)))
    try:
        per_clip = []
        for result in results:
            per_clip.append(result)
            if on_clip:
                on_clip(len(per_clip), len(jobs))
        return per_clip
    finally:
        if pool is not None:
            pool.close()
            pool.join()


def prepare(
    index: DatasetIndex,
    config: PreprocessConfig,
    cache_dir: Path,
    on_clip: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> Prepared:
    """Cached tensors for ``index``; computed only when no cache matches.

    ``workers``: processes used when computing (default: every core).
    """
    path = cache_path(index, config, cache_dir)
    keys = tuple(clip.key for clip in index.clips)
    cached = load_cached(path, keys, report=False)  # reported below, once, if damaged
    if cached is not None:
        return cached
    with exclusive(path):
        cached = load_cached(path, keys)  # another run may have finished it while we waited
        if cached is not None:
            return cached
        hook = provided_inputs(index.name).prepare_clip
        # a dataset's hook reads released tensors: starting worker processes costs more than it saves
        workers = 1 if hook else workers or os.cpu_count() or 1
        per_clip = compute(index.clips, config, workers, on_clip, hook)
        tensors = {
            name: torch.from_numpy(np.ascontiguousarray(np.stack([c[name] for c in per_clip])))
            for name in per_clip[0]
        }
        metadata = {"config": json.dumps(asdict(config)), "keys": json.dumps(keys)}
        save_tensors(path, tensors, metadata)
    return Prepared(keys, tensors, path)
