"""MA2MI: pre-train MIACNet's action branch on macro-expression videos by predicting a
near-future frame from the current one plus a learned action code.

Our reading of Li, Niu, Zhao (arXiv 2405.16451), "reconstruct future frames in latent space":

- pairs ``(t, t+k)`` inside one onset->apex segment, ``k`` drawn from ``gap`` (1-4 frames), so
  the motion between them is micro-sized; the same random flip/rotation/shift is applied to
  both frames (``zoo.engine.augment``);
- a frame encoder E (MIACNet's position branch when the model has one) encodes frame t; the
  MIACNet action branch encodes the pair and is squeezed through a ``bottleneck`` of few
  channels (so it cannot simply copy frame t+k); a light decoder D maps ``[E(t), code]`` to
  the latent of frame t+k, whose target comes from an EMA copy of E (stop-gradient);
- loss: normalized MSE in latent space, plus ``pixel_weight`` x normalized MSE of the
  predicted frame change ``x[t+k] - x[t]`` (half resolution) through a small upsampler. On
  this task the latent target alone barely depends on the action (E sees the face at the
  action map's grid, where near-future frames are almost identical), so the pixel term is
  on by default; ``--pixel-weight 0`` gives the latent-only reading.

The output checkpoint holds MIACNet's ``action.*`` (and ``position.*``) weights in MIACNet's
own key names, plus metadata: corpus, its subjects, model options, this configuration.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.macro import load_macro
from benchmarks.preprocess import read_rgb, resized
from benchmarks.records import DatasetIndex
from registry import CHECKPOINTS, MACRO, PRETRAINERS
from registry.errors import ConfigError, DataError
from zoo.backbones.mmnet import PositionCalibration
from zoo.engine.augment import AugmentConfig, augment
from zoo.engine.trainer import IMAGENET_MEAN, IMAGENET_STD, resolve_device
from zoo.models import create_model
from registry.options import model_options as resolve_options
from zoo.models.miacnet import PAPER, MIACNet, position_branch
from zoo.io.weights import checkpoint_meta, read_tensors, save_checkpoint

CITATION = PAPER
FINAL = "ma2mi.safetensors"
STATE = "state.safetensors"
# Model options that shape the pre-trained weights; the rest (fusion, head) are fine-tuning's.
TRUNK_OPTIONS = ("backbone", "width", "diff", "position")
# Unless --opt says otherwise: the CPU-sized trunk of the synth leaderboard (the paper's is
# width=64, about ten times the compute; see docs/miacnet.md).
DEFAULT_MODEL_OPTIONS = {"width": 16}


@dataclass(frozen=True)
class MA2MIConfig:
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    gap: tuple[int, int] = (1, 4)  # frames between the two frames of a pair, inclusive range
    input_size: int = 112
    pairs_per_clip: int = 4  # pairs drawn from each onset->apex segment per epoch
    bottleneck: int = 16  # channels of the action code
    ema: float = 0.99  # momentum of the target encoder
    pixel_weight: float = 1.0
    checkpoint_every: int = 5  # epochs
    seed: int = 0

    def __post_init__(self) -> None:
        if not (1 <= self.gap[0] <= self.gap[1]):
            raise ConfigError(f"--gap {self.gap[0]}-{self.gap[1]}: need 1 <= first <= last")
        for name in ("epochs", "batch_size", "pairs_per_clip", "bottleneck", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ma2mi {name} must be a positive integer, not {getattr(self, name)}")
        if self.input_size < 32 or self.input_size % 16:
            # the action map is at stride 16 and the pixel target at half the input's side
            raise ConfigError(f"ma2mi input_size must be a multiple of 16, at least 32, not {self.input_size}")

    def identity(self) -> dict:
        """What defines the result apart from how long it runs (epochs can be extended)."""
        return {k: v for k, v in asdict(self).items() if k not in ("epochs", "checkpoint_every")}


def parse_gap(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise ConfigError(f"--gap expects N or N-M (frames), not '{text}'") from None


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class MA2MI(nn.Module):
    """MIACNet's branches plus what only pre-training needs: target encoder, decoder, upsampler."""

    def __init__(self, net: MIACNet, bottleneck: int):
        super().__init__()
        self.net = net
        dim = net.action.channels
        # E: the position branch (then pre-trained too), or a private one for position=off
        self.own_encoder = position_branch(dim) if net.position is None else None
        self.target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.squeeze = nn.Conv2d(dim, bottleneck, kernel_size=1)
        self.decoder = nn.Sequential(_conv(dim + bottleneck, dim), nn.Conv2d(dim, dim, 3, padding=1))
        # stride 16 -> half input resolution: three x2 steps
        steps = [dim, max(dim // 2, 8), max(dim // 4, 8), max(dim // 8, 8)]
        self.upsampler = nn.Sequential(
            *[
                nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), _conv(a, b))
                for a, b in zip(steps, steps[1:])
            ],
            nn.Conv2d(steps[-1], 3, kernel_size=3, padding=1),
        )

    @property
    def encoder(self) -> PositionCalibration:
        return self.net.position if self.net.position is not None else self.own_encoder

    def losses(self, first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(latent loss, pixel loss) of predicting ``second`` from ``first`` and their action."""
        action = self.net.action(first, second)
        grid = tuple(action.shape[-2:])
        predicted = self.decoder(torch.cat([self.encoder(first, grid), self.squeeze(action)], dim=1))
        with torch.no_grad():
            target = self.target(second, grid)
        latent = (F.normalize(predicted, dim=1) - F.normalize(target, dim=1)).pow(2).sum(1).mean()
        change = F.avg_pool2d(second - first, 2)
        pixel = F.mse_loss(self.upsampler(predicted), change) / change.pow(2).mean().clamp_min(1e-6)
        return latent, pixel

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        for ema, online in zip(self.target.parameters(), self.encoder.parameters()):
            ema.lerp_(online, 1 - momentum)

    def export(self) -> dict[str, torch.Tensor]:
        """The weights MIACNet fine-tuning starts from, in MIACNet's key names."""
        return {k: v for k, v in self.net.state_dict().items() if k.startswith(covered(self.net))}


def covered(net: MIACNet) -> tuple[str, ...]:
    return ("action.", "position.") if net.position is not None else ("action.",)


def load_segments(index: DatasetIndex, size: int) -> list[torch.Tensor]:
    """uint8 frames (n, 3, S, S) of each clip's onset->apex segment (at least two frames)."""
    segments = []
    for clip in index.clips:
        numbers = [n for n in sorted(clip.frames) if clip.onset <= n <= clip.apex]
        if len(numbers) >= 2:
            frames = [resized(read_rgb(clip.frames[n]), size).transpose(2, 0, 1) for n in numbers]
            segments.append(torch.from_numpy(np.ascontiguousarray(np.stack(frames))))
    if not segments:
        raise DataError(f"{index.name} at {index.root}: no clip has two frames between onset and apex")
    return segments


def sample_pairs(segments: list[torch.Tensor], cfg: MA2MIConfig, epoch: int) -> list[tuple[int, int, int]]:
    """(segment, t, t+k) triples of one epoch, a function of (seed, epoch) only, so a resumed
    run draws the same pairs as an uninterrupted one."""
    rng = np.random.default_rng([cfg.seed, epoch])
    pairs = []
    for s, frames in enumerate(segments):
        for _ in range(cfg.pairs_per_clip):
            k = min(int(rng.integers(cfg.gap[0], cfg.gap[1] + 1)), len(frames) - 1)
            t = int(rng.integers(0, len(frames) - k))
            pairs.append((s, t, t + k))
    return [pairs[i] for i in rng.permutation(len(pairs))]


def _normalize(frames: torch.Tensor) -> torch.Tensor:
    return (frames.float() / 255 - IMAGENET_MEAN) / IMAGENET_STD


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    state = optimizer.state_dict()
    tensors = {
        f"optim/{pid}/{key}": value if torch.is_tensor(value) else torch.tensor(value)
        for pid, entries in state["state"].items()
        for key, value in entries.items()
    }
    return tensors, state["param_groups"]


def _restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list
) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, pid, key = name.split("/", 2)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def trunk_options(given: dict | None = None) -> dict:
    """The MIACNet options a pre-training is made with: the defaults, then ``given``, checked
    and resolved, keeping those that shape the pre-trained weights."""
    resolved = resolve_options("miacnet", {**DEFAULT_MODEL_OPTIONS, **(given or {})})
    return {k: v for k, v in resolved.items() if k in TRUNK_OPTIONS}


Progress = Callable[[int, int, float], None]  # (epoch, epochs, mean loss) after each epoch


def pretrain_ma2mi(
    corpus: str = "synth-macro",
    *,
    out: Path,
    config: MA2MIConfig | dict | None = None,
    model_options: dict | None = None,
    data_root: Path | None = None,
    exclude_subjects_of: dict[str, list[str]] | None = None,
    progress: Progress | None = None,
    step_progress: Callable[[int, int], None] | None = None,
    device: str = "auto",
) -> Path:
    """Pre-train (or resume) into ``out``; return the final checkpoint ``out/ma2mi.safetensors``.

    ``exclude_subjects_of``: micro dataset name -> its subject ids; corpus clips of the same
    people (per the corpus' ``same_subjects_as``) are left out and recorded. ``device``
    (cpu, cuda or auto) is where the network runs; frames are decoded and augmented on the CPU.
    It is not part of the recipe: a run may be resumed on another device.
    """
    out = Path(out)
    target_device = resolve_device(device)
    config = config if isinstance(config, MA2MIConfig) else MA2MIConfig(**(config or {}))
    entry = MACRO.get(corpus)
    options = trunk_options(model_options)
    torch.manual_seed(config.seed)
    # MA2MI trains the branches, not the fusion: the trunk is built with the parameter-free sum,
    # so a resume state holds the same tensors whatever MIACNet's fusion default (once sum, now gate)
    net = create_model("miacnet", 5, **options, fusion="sum")
    index = load_macro(corpus, data_root)
    excluded: list[str] = []
    for dataset, subjects in (exclude_subjects_of or {}).items():
        if dataset in entry.meta.get("same_subjects_as", ()):
            excluded += sorted(set(subjects) & set(index.subjects))
    clips = tuple(c for c in index.clips if c.subject not in excluded)
    if not clips:
        raise DataError(f"every subject of {corpus} is excluded; nothing left to pre-train on")
    index = DatasetIndex(index.name, index.root, clips)
    identity = {
        "corpus": corpus,
        "fingerprint": index.fingerprint(),
        "options": options,
        "config": config.identity(),
        "excluded": excluded,
    }
    identity_hash = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    model = MA2MI(net, config.bottleneck).to(target_device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    start, losses = 0, []
    if (out / STATE).is_file():
        meta = checkpoint_meta(out / STATE)
        if meta.get("identity") != identity_hash:
            raise ConfigError(
                f"{out} holds a pre-training of another configuration (corpus, options "
                "or settings differ); pass another --out, or delete it to start over"
            )
        tensors = read_tensors(out / STATE)
        try:
            model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
            _restore_optimizer(
                optimizer, {k: v for k, v in tensors.items() if k.startswith("optim/")}, meta["param_groups"]
            )
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"{out / STATE} does not fit this version's pre-training network ({str(exc).splitlines()[-1].strip()}); "
                "pass another --out to start over"
            ) from None
        start, losses = meta["epoch"], meta["losses"]
    if start > config.epochs:
        raise ConfigError(
            f"{out} already holds {start} epochs of this pre-training, more than the {config.epochs} "
            f"asked for; pass --epochs {start} or more, or another --out"
        )
    segments = load_segments(index, config.input_size)
    generator = torch.Generator()  # reseeded per epoch, so a resumed run augments alike

    def save(epoch: int) -> None:
        """The resume state every few epochs; the final checkpoint only at the last epoch, so
        a stopped run never leaves a file that looks finished (to fine-tune or to push)."""
        optim_tensors, groups = _optimizer_tensors(optimizer)
        state = {f"model/{k}": v for k, v in model.state_dict().items()}
        save_checkpoint(
            out / STATE,
            {**state, **optim_tensors},
            {"identity": identity_hash, "epoch": epoch, "losses": losses, "param_groups": groups},
        )
        if epoch < config.epochs:
            return
        save_checkpoint(
            out / FINAL,
            model.export(),
            {
                "pretrainer": "ma2mi",
                "corpus": corpus,
                "model": "miacnet",
                "model_options": options,
                "covers": list(covered(net)),
                "subjects": sorted({c.subject for c in clips}),
                "same_subjects_as": list(entry.meta.get("same_subjects_as", ())),
                "excluded_subjects": excluded,
                "config": asdict(config),
                "epochs_done": epoch,
                "losses": losses,
                "device": target_device.type,
                "identity": identity_hash,
            },
        )

    for epoch in range(start + 1, config.epochs + 1):
        generator.manual_seed(config.seed * 100_003 + epoch)
        model.train()
        model.target.eval()
        pairs = sample_pairs(segments, config, epoch)
        total, batches = 0.0, range(0, len(pairs), config.batch_size)
        for number, begin in enumerate(batches, start=1):
            chunk = pairs[begin : begin + config.batch_size]
            if len(chunk) < 2:
                continue
            first = torch.stack([segments[s][t] for s, t, _ in chunk])
            second = torch.stack([segments[s][u] for s, _, u in chunk])
            moved = augment(
                {"first": _normalize(first), "second": _normalize(second)}, AugmentConfig(), generator
            )
            latent, pixel = model.losses(*(moved[k].to(target_device) for k in ("first", "second")))
            loss = latent + config.pixel_weight * pixel
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.update_target(config.ema)
            total += loss.item() * len(chunk)
            if step_progress:
                step_progress(number, len(batches))
        losses.append(round(total / len(pairs), 5))
        if epoch % config.checkpoint_every == 0 or epoch == config.epochs:
            save(epoch)
        if progress:
            progress(epoch, config.epochs, losses[-1])
    if not (out / FINAL).is_file():  # finished before, and its final file since removed
        save(start)
    return out / FINAL


PRETRAINERS.register(
    "ma2mi",
    citation=CITATION,
    defaults={**asdict(MA2MIConfig()), "corpus": "synth-macro", "model_options": DEFAULT_MODEL_OPTIONS},
    trunk_options=TRUNK_OPTIONS,
    config=MA2MIConfig,
    options=trunk_options,
    summary="MA2MI: predict near-future macro frames from the current frame plus a learned "
    "action code (pre-trains MIACNet's branches)",
)(pretrain_ma2mi)

# The registered combination behind `zoo bench miacnet-ma2mi`: produced on first use under
# $ZOO_CACHE (one checkpoint per trunk configuration), then reused.
CHECKPOINTS.add(
    "ma2mi-synth-macro",
    {"pretrainer": "ma2mi", "corpus": "synth-macro", "config": {}},
    summary="MIACNet branches pre-trained with MA2MI on synth-macro (default settings); "
    "made on first use, per trunk configuration",
    citation=CITATION,
)
