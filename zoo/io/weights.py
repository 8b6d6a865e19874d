"""Checkpoint files: safetensors only (nothing external is ever unpickled), and the one
function that loads weights into a module, strictly unless a partial load is asked for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from benchmarks.files import atomic_write
from registry.errors import CheckpointError

META_KEY = "mer_zoo"  # safetensors metadata entry holding our JSON description
SHOWN = 12  # keys listed per kind in an error message


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Write ``tensors`` and the JSON-able ``meta`` atomically as one safetensors file. Each
    tensor is written as its own copy: a state dict's tensors may be views of one another
    (STSTNet's per-stream keys of its one-stream weights), which safetensors refuses."""
    tensors = {k: v.detach().cpu().clone(memory_format=torch.contiguous_format) for k, v in tensors.items()}
    return atomic_write(
        Path(path), lambda p: save_file(tensors, str(p), metadata={META_KEY: json.dumps(meta)})
    )


def checkpoint_meta(path: Path) -> dict:
    """The metadata a mer-zoo checkpoint was saved with (``{}`` for a foreign safetensors file)."""
    try:
        with safe_open(str(path), "pt") as handle:
            return json.loads((handle.metadata() or {}).get(META_KEY, "{}"))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        return load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadReport:
    """What a load did: keys loaded, and model keys left at their initial values."""

    loaded: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[str, ...]

    def summary(self) -> str:
        return (
            f"loaded {len(self.loaded)} tensors; not loaded: {len(self.missing)} missing, "
            f"{len(self.mismatched)} of another shape, {len(self.unexpected)} unused"
        )

    def to_dict(self) -> dict:
        return {
            "loaded": len(self.loaded),
            "missing": list(self.missing),
            "unexpected": list(self.unexpected),
            "mismatched": list(self.mismatched),
        }


def _listing(title: str, keys: tuple[str, ...]) -> str:
    more = f" (+{len(keys) - SHOWN} more)" if len(keys) > SHOWN else ""
    return f"{title} ({len(keys)}): {', '.join(keys[:SHOWN])}{more}"


def load_weights(
    module: nn.Module,
    path: Path,
    *,
    covers: tuple[str, ...] | None = None,
    allow_partial: bool = False,
    ignore_unused: bool = False,
) -> LoadReport:
    """Load the safetensors file ``path`` into ``module``.

    ``covers``: prefixes of the module's keys the checkpoint is meant to initialise (``None``:
    all); other module keys (a fresh classifier head) are not expected in it. Every key the
    checkpoint should hold but does not, every key of another shape, and (unless
    ``ignore_unused``) every checkpoint key the module lacks is an error listing those keys;
    with ``allow_partial`` the matching keys are loaded and the report says what was not.
    """
    tensors = read_tensors(path)
    state = module.state_dict()
    expected = [k for k in state if covers is None or k.startswith(covers)]
    missing = tuple(k for k in expected if k not in tensors)
    mismatched = tuple(
        f"{k} {tuple(tensors[k].shape)} vs {tuple(state[k].shape)}"
        for k in expected
        if k in tensors and tensors[k].shape != state[k].shape
    )
    unexpected = () if ignore_unused else tuple(k for k in tensors if k not in state)
    loaded = tuple(k for k in expected if k in tensors and tensors[k].shape == state[k].shape)
    report = LoadReport(loaded, missing, unexpected, mismatched)
    if (missing or mismatched or unexpected) and not allow_partial:
        problems = "; ".join(
            _listing(t, keys)
            for t, keys in (
                ("missing", missing),
                ("shape mismatch, checkpoint vs model", mismatched),
                ("not in the model", unexpected),
            )
            if keys
        )
        raise CheckpointError(
            f"checkpoint {path} does not fit {type(module).__name__} (was it trained with another "
            f"backbone or width?): {problems}. Use the matching model options, or --allow-partial "
            "to load only the matching tensors"
        )
    if not loaded:
        raise CheckpointError(f"checkpoint {path}: no tensor fits {type(module).__name__}")
    module.load_state_dict({k: tensors[k] for k in loaded}, strict=False)
    return report
