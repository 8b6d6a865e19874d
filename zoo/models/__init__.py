"""MER models, one file each, registered in ``registry.MODELS``.

A model entry is a builder ``build(num_classes, **options) -> nn.Module``; the module has
``inputs`` (a :class:`benchmarks.records.InputSpec`: which prepared tensors it takes, at
what size, from which flow, how scaled) and ``forward(**inputs) -> logits``. Models know nothing about datasets. The entry's
``defaults`` are its published training hyper-parameters and input size.
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from benchmarks.records import PREPARED_CHANNELS
from registry import MODELS
from registry.options import model_options


def create_model(name: str, num_classes: int, **options: Any) -> nn.Module:
    """Build model ``name`` for ``num_classes`` classes with validated options."""
    return MODELS.get(name).obj(num_classes=num_classes, **model_options(name, options))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(model: nn.Module, input_size: int) -> int:
    """FLOPs of one forward pass on one sample, as torch's FlopCounterMode counts them
    (matrix products and convolutions; one multiply-add is two FLOPs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    size = model.inputs.size or input_size
    inputs = {k: torch.zeros(1, PREPARED_CHANNELS[k], size, size) for k in model.inputs.keys}
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    return counter.get_total_flops()
