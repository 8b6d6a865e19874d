"""Deterministic training on request (``zoo bench --deterministic``), and what a result records.

On CPU, training is reproducible without it: every random draw comes from seeded generators
and torch's CPU kernels give the same bits for the same inputs, torch build and thread count.
On CUDA, cuDNN's algorithm choice and atomic adds in some kernels differ run to run; torch
offers switches for that, which this module sets. An op with no deterministic CUDA kernel
then raises, and :func:`explain_nondeterministic` turns that into a one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from registry.errors import ConfigError

# cuBLAS needs a fixed workspace to be deterministic (CUDA >= 10.2); torch's documented value
CUBLAS_WORKSPACE = ":4096:8"


def make_deterministic() -> None:
    """Ask torch for deterministic kernels everywhere, before any CUDA work of this process."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def determinism_settings() -> dict[str, object]:
    """The switches as they stand, for the result file."""
    return {
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


@contextmanager
def explain_nondeterministic(model: str) -> Iterator[None]:
    """Turn torch's error for an op without a deterministic kernel into a :class:`ConfigError`."""
    try:
        yield
    except RuntimeError as exc:
        if "does not have a deterministic implementation" not in str(exc):
            raise
        op = str(exc).split(" does not have", 1)[0]
        raise ConfigError(f"--deterministic: model {model} uses {op}, which has no deterministic "
                          "kernel on this device; run without --deterministic, or on CPU") from exc
