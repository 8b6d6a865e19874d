"""Where caches live, and atomic writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from registry.errors import StorageError

# A write that fails with one of these is the disk's fault, not a bug: say so in one line.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def cache_home() -> Path:
    """Root of every generated dataset and preprocessing cache (``$ZOO_CACHE``)."""
    return Path(os.environ.get("ZOO_CACHE", Path.home() / ".cache" / "mer-zoo")).expanduser()


CACHE_VARIABLE = "$ZOO_CACHE"


def portable_path(path: Path) -> str:
    """``path`` as a result file records it: a file in the cache is written relative to
    ``$ZOO_CACHE``, so a published result names no machine's folders and, on another machine,
    points into that user's own cache (recipe checkpoints sit at the same place in every cache)."""
    try:
        return f"{CACHE_VARIABLE}/{Path(path).resolve().relative_to(cache_home().resolve()).as_posix()}"
    except ValueError:
        return str(path)


def local_path(recorded: str) -> Path:
    """A path recorded by :func:`portable_path`, on this machine."""
    if recorded == CACHE_VARIABLE or recorded.startswith(CACHE_VARIABLE + "/"):
        return cache_home() / recorded[len(CACHE_VARIABLE) + 1 :]
    return Path(recorded).expanduser()


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary sibling of ``path``, then rename it into place.

    A failed write (a full disk included) removes the temporary and leaves ``path`` as it was;
    a full or read-only disk raises :class:`StorageError` naming ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:
            raise StorageError(f"cannot write {path}: {os.strerror(exc.errno)}; free space (or choose "
                               "another folder) and re-run: finished work is kept") from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove_temporaries(path: Path) -> None:
    """Delete what a killed ``atomic_write(path, ...)`` left behind; call only while no other
    process can be writing ``path`` (under its lock)."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*"):
        leftover.unlink(missing_ok=True)


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
