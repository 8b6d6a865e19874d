"""One trainer for every model: fit on a fold's training subjects, predict its test subjects.

The test subject never influences training or model selection: the model of the last epoch
is used (``selection="last"``), or the best epoch on validation subjects drawn from the
training subjects only (``selection="val"``). Input normalisation statistics come from the
training subjects only.
"""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.metrics import unweighted_f1
from registry.errors import ConfigError
from zoo.engine.allocator import keep_freed_memory
from zoo.engine.augment import AugmentConfig, augment
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import make_deterministic

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
IMAGE_KEYS = ("onset", "apex", "offset")
MOTION_KEYS = ("flow", "magnitude", "strain")  # zero means no motion; scaled, never shifted
SELECTION_RULES = {
    "last": "model of the last epoch (fixed budget)",
    "val": "best epoch by UF1 on validation subjects drawn from the training subjects",
}
ORDERS = {
    "shuffled": "a fresh permutation of the training clips each epoch",
    "by-class": "the same batches every epoch, clips sorted by class (the dataset's order within a class), "
    "as a loader without shuffling reads class folders",
}
PRECISIONS = {
    "fp32": "float32 throughout",
    "bf16": "bfloat16 autocast (weights, loss and optimizer in float32); channels-last on CPU",
}
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of bf16 arithmetic
PRESCALE_BYTES = 256 << 20  # training inputs up to this size (as float) are scaled once per fold


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    momentum: float = 0.9
    lr_decay: float = 1.0  # learning rate multiplied by this after each epoch...
    lr_decay_epochs: int | None = None  # ...for this many epochs (None: all)
    class_balanced: bool = False
    label_smoothing: float = 0.0
    selection: str = "last"
    val_fraction: float = 0.2  # of the training subjects, with selection="val"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    order: str = "shuffled"  # one of ORDERS: the training clips' order in each epoch
    precision: str = "fp32"  # one of PRECISIONS
    device: str = "cpu"
    seed: int = 0
    deterministic: bool = False  # deterministic kernels on CUDA too (zoo.engine.determinism)

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, not {value}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, not {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"--weight-decay must be >= 0, not {self.weight_decay}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ConfigError(f"--optimizer must be adamw or sgd, not {self.optimizer}")
        if self.selection not in SELECTION_RULES:
            raise ConfigError(f"--selection must be one of {', '.join(SELECTION_RULES)}")
        if self.order not in ORDERS:
            raise ConfigError(f"--order must be one of {', '.join(ORDERS)}, not {self.order}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FoldData:
    """Raw prepared inputs (uint8 frames, float flow), labels and subjects of some samples."""

    inputs: dict[str, torch.Tensor]
    labels: torch.Tensor
    subjects: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: list[int]) -> "FoldData":
        rows = torch.tensor(index, dtype=torch.long)
        return FoldData(
            {k: v[rows] for k, v in self.inputs.items()},
            self.labels[rows],
            tuple(self.subjects[i] for i in index),
        )


@dataclass(frozen=True)
class FoldOutcome:
    predictions: list[int]
    probabilities: list[list[float]]
    selected_epoch: int
    losses: list[float]
    seconds: float
    # the weights and input scaling that made the predictions (what --save-weights keeps)
    weights: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    normalizer: dict[str, float] = field(default_factory=dict)


def minmax(value: torch.Tensor) -> torch.Tensor:
    """Each channel of each sample scaled to [0, 1] (a constant channel becomes 0)."""
    flat = value.flatten(2)
    low, high = flat.amin(dim=2)[..., None, None], flat.amax(dim=2)[..., None, None]
    return (value - low) / (high - low).clamp_min(1e-6)


class InputNormalizer:
    """Turns cached tensors into model inputs as the model's ``InputSpec.scaling`` says.

    ``standard``: frames by ImageNet mean/std (fixed constants); flow, magnitude and strain
    each divided by its RMS over the training subjects, keeping zero motion at zero and flow
    vectors' directions intact; the grey difference ``diff`` (already in [-1, 1]) as is.
    ``minmax``: each channel of each clip scaled to [0, 1], as STSTNet's released inputs.
    Done per batch here, not in the cache, so one cache serves every model whatever its
    scaling; and min-max scaling comes after augmentation, because a mirror negates u,
    which is not a mirror of min-max-scaled u.
    """

    def __init__(self, train: FoldData, scaling: str = "standard"):
        self.scaling = scaling
        self.scales = {
            key: float(train.inputs[key].float().pow(2).mean().sqrt().clamp_min(1e-6))
            for key in MOTION_KEYS
            if key in train.inputs
        }

    def state(self) -> dict:
        return {"scaling": self.scaling, "scales": dict(self.scales)}

    @classmethod
    def from_state(cls, state: dict) -> "InputNormalizer":
        """The normaliser of a saved fold, without its training data."""
        normalizer = cls.__new__(cls)
        normalizer.scaling = state["scaling"]
        normalizer.scales = {k: float(v) for k, v in state["scales"].items()}
        return normalizer

    def __call__(
        self,
        inputs: dict[str, torch.Tensor],
        device: torch.device,
        transform: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Scaled ``inputs`` on ``device``; ``transform`` (augmentation) is applied to them."""
        transform = transform or (lambda batch: batch)
        if self.scaling == "minmax":
            moved = transform({k: v.to(device).float() for k, v in inputs.items()})
            return {k: minmax(v) for k, v in moved.items()}
        out = {}
        for key, value in inputs.items():
            value = value.to(device).float()
            if key in IMAGE_KEYS:
                value = (value / 255 - IMAGENET_MEAN.to(device)) / IMAGENET_STD.to(device)
            elif key in MOTION_KEYS:
                value = value / self.scales.get(key, 1.0)
            out[key] = value
        return transform(out)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but no CUDA device is available; use --device cpu")
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"--device must be cpu, cuda or auto, not {name}")
    return torch.device(name)


def cpu_description() -> dict:
    """This machine's CPU as a measured figure should name it: model, and the vector extensions
    that decide its speed (``/proc/cpuinfo``; empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    flags = set(text.split())
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), None)
    return {"model": model, "flags": [f for f in ("avx2", "avx512f", *NATIVE_BF16_FLAGS) if f in flags]}


def cpu_has_native_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic in hardware (AVX512-BF16 or AMX). Elsewhere oneDNN
    emulates it, slower than fp32, so a bf16 run there would only cost accuracy."""
    flags = cpu_description()["flags"]
    return torch.ops.mkldnn._is_mkldnn_bf16_supported() and any(f in flags for f in NATIVE_BF16_FLAGS)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot compute natively."""
    if precision != "bf16":
        return
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            "--precision bf16 asked for, but this CUDA device has no bf16; use --precision fp32"
        )
    if device.type == "cpu" and not cpu_has_native_bf16():
        raise ConfigError(
            "--precision bf16 asked for, but this CPU has no native bf16 "
            f"({' or '.join(NATIVE_BF16_FLAGS)}), where it is slower than fp32; use --precision fp32"
        )


def split_validation(data: FoldData, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out whole training subjects for validation (never samples of one subject)."""
    subjects = sorted(set(data.subjects))
    rng = np.random.default_rng(seed)
    n_val = min(max(1, round(fraction * len(subjects))), len(subjects) - 1)
    held = set(rng.choice(subjects, size=n_val, replace=False).tolist())
    train = [i for i, s in enumerate(data.subjects) if s not in held]
    val = [i for i, s in enumerate(data.subjects) if s in held]
    return train, val


def epoch_order(labels: torch.Tensor, order: str, generator: torch.Generator) -> torch.Tensor:
    """The rows of one epoch in training order (:data:`ORDERS`). ``by-class`` is there for
    releases that train so (STSTNet's ``DataLoader`` without ``shuffle``): it draws nothing from
    ``generator``."""
    if order == "by-class":
        return torch.sort(labels, stable=True).indices
    return torch.randperm(len(labels), generator=generator)


def class_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    counts = torch.bincount(labels, minlength=num_classes).float()
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def predict(
    model: nn.Module,
    data: FoldData,
    normalize: InputNormalizer,
    device: torch.device,
    batch_size: int,
    precision: str,
) -> torch.Tensor:
    """Class probabilities for every sample of ``data``."""
    model.eval()
    keys = model.inputs.keys
    out = []
    with torch.no_grad(), autocast(device, precision):
        for start in range(0, len(data), batch_size):
            batch = {k: data.inputs[k][start : start + batch_size] for k in keys}
            batch = to_channels_last(normalize(batch, device), device, precision)
            out.append(F.softmax(model(**batch).float(), dim=1).cpu())
    return torch.cat(out)


def autocast(device: torch.device, precision: str):
    """bf16 autocast of the forward pass; weights, loss and optimizer state stay float32."""
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def channels_last(device: torch.device, precision: str) -> bool:
    """oneDNN's bf16 convolutions run on channels-last tensors; given NCHW they reorder each one."""
    return precision == "bf16" and device.type == "cpu"


def to_channels_last(
    batch: dict[str, torch.Tensor], device: torch.device, precision: str
) -> dict[str, torch.Tensor]:
    if not channels_last(device, precision):
        return batch
    return {
        k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in batch.items()
    }


def prescaled(
    train: FoldData, keys: tuple[str, ...], normalize: InputNormalizer, augmentation: AugmentConfig,
    device: torch.device,
) -> dict[str, torch.Tensor] | None:
    """Every training input scaled once, on ``device``, when no augmentation changes them from
    epoch to epoch and they fit in ``PRESCALE_BYTES``; ``None``: scale each batch as it is drawn.
    Scaling is per sample, so a batch cut from these is the batch scaled on its own."""
    size = sum(train.inputs[k].numel() for k in keys) * 4
    if augmentation.active or size > PRESCALE_BYTES:
        return None
    return normalize({k: train.inputs[k] for k in keys}, device)


@dataclass
class Fitted:
    """A trained model as :func:`fit` leaves it: eval mode, its input scaling, how it trained."""

    model: nn.Module
    normalizer: InputNormalizer
    device: torch.device
    selected_epoch: int
    losses: list[float]
    seconds: float
    validation_subjects: tuple[str, ...] = ()  # held out of training to choose the epoch (selection="val")


def fit(
    build: Callable[[], nn.Module],
    train: FoldData,
    cfg: TrainConfig,
    num_classes: int,
    on_epoch: Callable[[int, float], None] | None = None,
    checkpoint: FoldCheckpoint | None = None,
) -> Fitted:
    """Train a fresh model from ``build`` on ``train``. With ``checkpoint``, continue from its
    saved state (the outcome is the same as without) and save it as it says."""
    started = time.perf_counter()
    keep_freed_memory()
    if cfg.deterministic:
        make_deterministic()
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    check_precision(cfg.precision, device)
    validation = None
    if cfg.selection == "val":
        fit_rows, val_rows = split_validation(train, cfg.val_fraction, cfg.seed)
        train, validation = train.subset(fit_rows), train.subset(val_rows)
    model = build().to(device)
    if channels_last(device, cfg.precision):
        model = model.to(memory_format=torch.channels_last)
    keys = model.inputs.keys
    normalize = InputNormalizer(train, model.inputs.scaling)
    optimizer = (  # fused AdamW on CPU: one kernel per tensor, 2x faster for Dual-Inception's 6.4 M weights
        torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=device.type == "cpu")
        if cfg.optimizer == "adamw"
        else torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    )
    decay_epochs = cfg.lr_decay_epochs if cfg.lr_decay_epochs is not None else cfg.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda epoch: cfg.lr_decay ** min(epoch, decay_epochs)
    )
    weight = class_weights(train.labels, num_classes).to(device) if cfg.class_balanced else None
    scaled = prescaled(train, keys, normalize, cfg.augment, device)
    losses: list[float] = []
    best = (-1.0, cfg.epochs, None)
    training = (cfg.to_dict(), model, optimizer, scheduler, generator)
    if checkpoint is not None:
        restored = checkpoint.restore(*training)
        if restored is not None:
            losses, best, spent = restored
            started -= spent  # the fold's time includes what it spent before the interruption
    for epoch in range(len(losses) + 1, cfg.epochs + 1):
        model.train()
        order = epoch_order(train.labels, cfg.order, generator)
        total, seen = torch.zeros((), dtype=torch.float64, device=device), 0
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            if len(rows) < 2:  # batch norm cannot train on a single sample
                continue
            if scaled is not None:
                batch = {k: v[rows.to(device)] for k, v in scaled.items()}
            else:
                batch = normalize(
                    {k: train.inputs[k][rows] for k in keys},
                    device,
                    lambda inputs: augment(inputs, cfg.augment, generator),
                )
            batch = to_channels_last(batch, device, cfg.precision)
            labels = train.labels[rows].to(device)
            with autocast(device, cfg.precision):
                logits = model(**batch)
            loss = F.cross_entropy(logits.float(), labels, weight=weight, label_smoothing=cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * len(rows)  # read once per epoch: no sync per step
            seen += len(rows)
        scheduler.step()
        losses.append(total.item() / max(seen, 1))
        if validation is not None:
            val_pred = predict(model, validation, normalize, device, cfg.batch_size, cfg.precision).argmax(1)
            score = unweighted_f1(validation.labels.tolist(), val_pred.tolist(), num_classes)
            if score > best[0]:
                best = (score, epoch, copy.deepcopy(model.state_dict()))
        if checkpoint is not None and checkpoint.due(epoch, cfg.epochs):
            checkpoint.save(*training, losses, best, time.perf_counter() - started)
        if on_epoch:
            on_epoch(epoch, losses[-1])
    selected = cfg.epochs
    if validation is not None and best[2] is not None:
        model.load_state_dict(best[2])
        selected = best[1]
    model.eval()
    held_out = tuple(sorted(set(validation.subjects))) if validation is not None else ()
    return Fitted(model, normalize, device, selected, losses, time.perf_counter() - started, held_out)


def fit_predict(
    build: Callable[[], nn.Module],
    train: FoldData,
    test: FoldData,
    cfg: TrainConfig,
    num_classes: int,
    on_epoch: Callable[[int, float], None] | None = None,
    checkpoint: FoldCheckpoint | None = None,
) -> FoldOutcome:
    """Train a fresh model from ``build`` on ``train`` (:func:`fit`) and predict ``test``."""
    fitted = fit(build, train, cfg, num_classes, on_epoch, checkpoint)
    predicting = time.perf_counter()
    probabilities = predict(fitted.model, test, fitted.normalizer, fitted.device, cfg.batch_size, cfg.precision)
    return FoldOutcome(
        predictions=probabilities.argmax(1).tolist(),
        probabilities=[[round(p, 5) for p in row] for row in probabilities.tolist()],
        selected_epoch=fitted.selected_epoch,
        losses=[round(x, 5) for x in fitted.losses],
        seconds=round(fitted.seconds + time.perf_counter() - predicting, 2),
        weights={k: v.contiguous() for k, v in fitted.model.state_dict().items()},  # bf16 on CPU: channels-last
        normalizer=fitted.normalizer.state(),
    )
