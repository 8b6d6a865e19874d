"""Inter-process locks that name their holder.

``flock`` locks belong to an open file and the kernel drops them when their process dies, so
the lock of a killed run is free at once: no stale-lock heuristics, no reused-pid mistakes.
The lock file holds the holder's pid and host, only so that a second process can say whom it
waits for or why it refuses. (``flock`` does not lock across machines on every network file
system: run one benchmark per run id and results folder at a time there.)
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.errors import LockedError

log = logging.getLogger(__name__)


def holder_of(fd: int) -> str:
    """Who holds the lock, as its lock file says."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"process {holder['pid']} on {holder['host']}"
    except (ValueError, KeyError, TypeError):  # not written yet: the holder has just taken it
        return "another process"


@contextmanager
def file_lock(path: Path, what: str, wait: bool) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (``what`` names the locked thing in messages).

    Another holder makes this wait (saying for whom), or with ``wait=False`` raise
    :class:`LockedError` naming it. The lock file is removed on release.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(fd)
            if not wait:
                os.close(fd)
                raise LockedError(f"{what} is in use by {holder} (lock {path}); wait for it to "
                                  "finish, or stop it and run again") from None
            log.warning(f"waiting for {holder}, which holds {what} (lock {path})")
            fcntl.flock(fd, fcntl.LOCK_EX)
        if _still_at(fd, path):
            break
        os.close(fd)  # the holder removed the file while we waited: lock the one now there
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
