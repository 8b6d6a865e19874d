"""Backbones: any timm model by name, plus MER-specific trunks registered in this package.

``create_backbone`` is the one front door: a name registered in ``registry.BACKBONES`` wins,
otherwise the name goes to ``timm.create_model``. A registered trunk is built as
``builder(width=...)`` and returns a module whose forward maps an image to a feature map at
stride 16 with ``num_features`` channels (``mmnet_ca``, ``resnet18_cbam``). Only
``pretrained=True`` reaches the network: timm's published ImageNet weights, fetched by
timm's own Hub loading into the Hugging Face cache (safetensors only). Nothing else is ever
downloaded.
"""

from __future__ import annotations

from typing import Any

import timm
import torch.nn as nn
from timm.models import get_pretrained_cfg

from registry import BACKBONES
from registry.errors import ConfigError, UnknownNameError
from zoo.io.hub_client import hub_errors

SAFETENSORS = "model.safetensors"  # the file timm's Hub repos publish their weights in


def timm_names(pattern: str = "*") -> list[str]:
    return timm.list_models(pattern)


def backbone_exists(name: str) -> bool:
    return name in BACKBONES or timm.is_model(name)


def create_backbone(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """A registered MER backbone, or ``timm.create_model(name, pretrained, **kwargs)``."""
    if name in BACKBONES:
        if pretrained:
            raise ConfigError(f"backbone '{name}' is mer-zoo's own and has no published ImageNet weights")
        return BACKBONES.get(name).obj(**kwargs)
    if not timm.is_model(name):
        candidates = BACKBONES.names() + timm_names()
        raise UnknownNameError("backbone", name, BACKBONES.suggest(name, candidates))
    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    cfg = get_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        raise ConfigError(
            f"timm publishes no Hub weights for '{name}'; save them as safetensors and pass a local file"
        )
    # as timm.create_model(name, pretrained=True) does, but never falling back to a pickle
    with hub_errors(f"timm's ImageNet weights of {name} ({cfg.hf_hub_id}/{SAFETENSORS})"):
        return timm.create_model(
            name, pretrained=True, pretrained_cfg_overlay={"hf_hub_filename": SAFETENSORS}, **kwargs
        )
