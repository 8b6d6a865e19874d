"""What ``zoo push`` publishes: built by :mod:`zoo.hub.repo`, described by :mod:`zoo.hub.card`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Publication:
    """Local files ready to push: the config (without digests), the files, the card's facts."""

    kind: str
    config: dict
    files: dict[str, Path]  # path in the repo -> local file
    result: dict | None = None  # kind "run"
    checkpoint: dict | None = None  # kind "pretraining": the checkpoint's metadata
