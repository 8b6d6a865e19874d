"""Where caches live, and atomic writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def cache_home() -> Path:
    """Root of every generated dataset and preprocessing cache (``$ZOO_CACHE``)."""
    return Path(os.environ.get("ZOO_CACHE", Path.home() / ".cache" / "mer-zoo")).expanduser()


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary sibling of ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_json(path: Path, payload: object) -> Path:
    return atomic_write(path, lambda p: p.write_text(json.dumps(payload, indent=1, sort_keys=True)))


def atomic_folder(target: Path, marker: str, fill: Callable[[Path], object]) -> Path:
    """Have ``fill`` populate a temporary sibling folder, then rename it to ``target``.

    ``fill`` must write the file ``marker`` last; a folder holding it is complete, so a
    concurrent or interrupted run never sees half of one.
    """
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        fill(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first; its copy is identical
            if not (target / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
