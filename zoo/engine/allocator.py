"""Keep freed memory in the process for the next training step, instead of handing it back.

glibc's malloc serves large blocks with ``mmap`` and returns them to the kernel on ``free``
(and trims the heap's top past 128 KiB), so every activation buffer of every step is mapped
and faulted in again: STSTNet at batch 256 spent 15-20 % of a step in the kernel (about
5,000 minor page faults per step). Raising both thresholds keeps the buffers in the heap,
where the next step reuses them. It is set in the running process (``mallopt``), so it holds
for whichever executor trains the folds; ``ZOO_ALLOCATOR=system`` keeps glibc's defaults (to
measure the difference). Memory freed by training is then not returned to the system until
the process ends: the peak stays resident, which is what the next step needs anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
KEEP_BELOW = 1 << 30  # blocks up to 1 GiB come from (and return to) the heap
SETTING = "ZOO_ALLOCATOR"


@functools.cache
def keep_freed_memory() -> str:
    """Apply the setting once per process; what the process's allocator does now, for the record."""
    if os.environ.get(SETTING, "").lower() == "system":
        return "system"
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return "system"  # not glibc (musl, macOS, Windows): nothing to set
    if libc.mallopt(M_MMAP_THRESHOLD, KEEP_BELOW) != 1 or libc.mallopt(M_TRIM_THRESHOLD, KEEP_BELOW) != 1:
        return "system"
    return "glibc-keep-freed"
