"""Mid-fold resume: a fold's training state, saved at epoch ends and restored on a re-run.

Continuing from the state of epoch k gives exactly what an uninterrupted fold gives, because
the state holds everything the next epochs depend on: the model (parameters and buffers),
the optimizer, the learning-rate schedule, the generator that draws data order and
augmentation, torch's global RNG (dropout; CUDA's RNG too on CUDA), the losses so far and,
with ``selection="val"``, the best epoch's weights and score. Training draws nothing from
numpy's or Python's global RNGs (the validation split has its own seeded generator), so they
are not saved. Tensors go into one checksummed safetensors file, everything else into its
JSON metadata; the file also records the training configuration, and a state saved under
another one (another device, say) is not used.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from benchmarks.integrity import load_tensors, save_tensors

AUTO_SECONDS = 120.0
log = logging.getLogger(__name__)


@dataclass
class FoldCheckpoint:
    """Where one fold's state lives and when it is saved: every ``every`` epochs (0: never), or
    with ``every=None`` (automatic) at the first epoch end ``AUTO_SECONDS`` after the fold
    started or was last saved. So folds of a couple of minutes (every synth fold at its
    budget) never pay for a save, and a long fold loses at most that time plus one epoch."""

    path: Path
    every: int | None = None
    _saved_at: float = field(default=0.0, repr=False)

    def due(self, epoch: int, epochs: int) -> bool:
        if epoch == epochs:  # the fold is finishing; its record replaces the state
            return False
        if self.every is None:
            return time.monotonic() - self._saved_at >= AUTO_SECONDS
        return self.every > 0 and epoch % self.every == 0

    def save(self, config: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             scheduler: torch.optim.lr_scheduler.LRScheduler, generator: torch.Generator,
             losses: list[float], best: tuple[float, int, dict | None], seconds: float) -> None:
        """Save the state after an epoch; ``seconds``: the fold's training time so far."""
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors |= {f"best.{k}": v for k, v in (best[2] or {}).items()}
        tensors |= {"rng.generator": generator.get_state(), "rng.torch": torch.get_rng_state()}
        device = next(model.parameters()).device
        if device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(device)
        state = {
            "config": config,
            "losses": losses,
            "best": [best[0], best[1]],
            "optimizer": _split(optimizer.state_dict(), "optimizer", tensors),
            "scheduler": scheduler.state_dict(),
            "seconds": seconds,
        }
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
        save_tensors(self.path, tensors, {"state": json.dumps(state)})
        self._saved_at = time.monotonic()

    def restore(self, config: dict, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, generator: torch.Generator
                ) -> tuple[list[float], tuple[float, int, dict | None], float] | None:
        """Load the saved state into the given objects and return the losses so far, the best
        epoch and the training seconds already spent (so a resumed fold's time is whole);
        ``None`` (a fresh start) if there is no usable state. Call it once, when the fold
        starts: the automatic interval counts from here."""
        self._saved_at = time.monotonic()
        loaded = load_tensors(self.path)
        if loaded is None:
            return None
        tensors, metadata = loaded
        state = json.loads(metadata["state"])
        current = json.loads(json.dumps(config))
        # a field added to the configuration after the save is not compared: the state sits in
        # its run's folder, and a run id leaves such a field out at its earlier behaviour
        if {key: current.get(key) for key in state["config"]} != state["config"]:
            log.warning(f"warning: {self.path} was saved under another training configuration; "
                        "starting the fold over")
            return None
        model.load_state_dict(_strip(tensors, "model."))
        optimizer.load_state_dict(_join(state["optimizer"], tensors))
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(tensors["rng.generator"])
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors:
            torch.cuda.set_rng_state(tensors["rng.cuda"], next(model.parameters()).device)
        best_state = _strip(tensors, "best.") or None
        return state["losses"], (state["best"][0], state["best"][1], best_state), state.get("seconds", 0.0)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _split(value: object, name: str, tensors: dict[str, torch.Tensor]) -> object:
    """JSON skeleton of a nested state dict, its tensors moved into ``tensors`` under dotted
    names. Dicts become pairs so that integer keys (optimizer parameter ids) stay integers."""
    if isinstance(value, torch.Tensor):
        tensors[name] = value
        return {"tensor": name}
    if isinstance(value, dict):
        return {"pairs": [[k, _split(v, f"{name}.{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_split(v, f"{name}.{i}", tensors) for i, v in enumerate(value)]
    return value


def _join(skeleton: object, tensors: dict[str, torch.Tensor]) -> object:
    """Inverse of :func:`_split`."""
    if isinstance(skeleton, dict) and "tensor" in skeleton:
        return tensors[skeleton["tensor"]]
    if isinstance(skeleton, dict):
        return {k: _join(v, tensors) for k, v in skeleton["pairs"]}
    if isinstance(skeleton, list):
        return [_join(v, tensors) for v in skeleton]
    return skeleton
