"""Checksummed files: a damaged cache, partial fold or fold state is detected, reported and
rebuilt, never silently used.

Atomic writes already rule out a half-written file after a crash; a checksum also catches
what they cannot: a disk or copy that corrupts or truncates a file later. Tensors go into
safetensors files whose metadata holds a SHA-256 of the tensors and the other metadata;
JSON records carry a ``sha256`` field over the rest of the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from benchmarks.files import atomic_write, atomic_write_json

CHECKSUM = "sha256"
log = logging.getLogger(__name__)


def tensors_digest(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(dict(metadata), sort_keys=True).encode())
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"|{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def json_digest(record: Mapping) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def report_damaged(path: Path, why: str) -> None:
    log.warning(f"warning: {path}: {why}; not using it, it will be rebuilt")


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> Path:
    """Write ``tensors`` (CPU, no shared storage) and ``metadata`` atomically, with their checksum.

    Serialised in memory and written by Python, so a full disk is an ``OSError``
    (:class:`StorageError`) like every other write.
    """
    sealed = {**metadata, CHECKSUM: tensors_digest(tensors, metadata)}
    data = save(dict(tensors), metadata=sealed)
    return atomic_write(path, lambda p: p.write_bytes(data))


def load_tensors(path: Path, report: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]] | None:
    """Tensors and metadata written by :func:`save_tensors`; ``None`` if the file is missing or
    damaged (unreadable, truncated, no or wrong checksum), which is reported if ``report``."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "pt") as stored:
            metadata = dict(stored.metadata() or {})
            tensors = {name: stored.get_tensor(name) for name in stored.keys()}
    except (SafetensorError, OSError) as exc:
        why = f"unreadable ({exc})"
    else:
        checksum = metadata.pop(CHECKSUM, None)
        if checksum is not None and checksum == tensors_digest(tensors, metadata):
            return tensors, metadata
        why = "checksum mismatch (the file changed after it was written)" if checksum else "no checksum"
    if report:
        report_damaged(path, why)
    return None


def write_json(path: Path, record: Mapping) -> Path:
    """Write ``record`` atomically with a ``sha256`` field over the rest of it."""
    return atomic_write_json(path, {**record, CHECKSUM: json_digest(record)})


def read_json(path: Path) -> dict | None:
    """A record written by :func:`write_json` (without its checksum field); ``None`` if the file
    is missing, or damaged (reported)."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:
        report_damaged(path, f"not readable as JSON ({exc})")
        return None
    checksum = record.pop(CHECKSUM, None) if isinstance(record, dict) else None
    if checksum is not None and checksum == json_digest(record):
        return record
    report_damaged(path, "checksum mismatch (the file changed after it was written)" if checksum
                   else "no checksum")
    return None
