"""MER models, one file each, registered in ``registry.MODELS``.

A model entry is a builder ``build(num_classes, **options) -> nn.Module``; the module has
``inputs`` (a :class:`benchmarks.records.InputSpec`: which prepared tensors it takes, at
what size, from which flow, how scaled) and ``forward(**inputs) -> logits``. Models know nothing about datasets. The entry's
``defaults`` are its published training hyper-parameters and input size.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch.nn as nn

from benchmarks.records import PREPARED_CHANNELS
from registry import MODELS
from registry.errors import ConfigError


def model_options(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The builder's options with ``given`` applied; an unknown option is an error."""
    builder = MODELS.get(name).obj
    parameters = inspect.signature(builder).parameters
    options = {
        key: p.default
        for key, p in parameters.items()
        if key != "num_classes" and p.default is not inspect.Parameter.empty
    }
    for key, value in (given or {}).items():
        if key not in options:
            raise ConfigError(f"model '{name}' has no option '{key}'; its options are: {', '.join(options)}")
        options[key] = coerce_option(value, options[key], key)
    return options


def coerce_option(value: Any, default: Any, key: str) -> Any:
    """Turn a command-line string into the type of the option's default."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return type(default)(value)
    except ValueError:
        raise ConfigError(f"option {key}={value}: expected a {type(default).__name__}") from None


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
