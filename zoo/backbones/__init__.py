"""Backbones: any timm model by name, plus MER-specific trunks registered in this package.

``create_backbone`` is the one front door: a name registered in ``registry.BACKBONES`` wins,
otherwise the name goes to ``timm.create_model``. A registered trunk is built as
``builder(width=...)`` and returns a module whose forward maps an image to a feature map at
stride 16 with ``num_features`` channels (``mmnet_ca``, ``resnet18_cbam``). Pretrained weights
are never downloaded here (nothing may be fetched at run time); initialisation from weights
goes through checkpoints.
"""

from __future__ import annotations

from typing import Any

import timm
import torch.nn as nn

from registry import BACKBONES
from registry.errors import UnknownNameError


def timm_names(pattern: str = "*") -> list[str]:
    return timm.list_models(pattern)


def backbone_exists(name: str) -> bool:
    return name in BACKBONES or timm.is_model(name)


def create_backbone(name: str, **kwargs: Any) -> nn.Module:
    """A registered MER backbone, or ``timm.create_model(name, pretrained=False, **kwargs)``."""
    if name in BACKBONES:
        return BACKBONES.get(name).obj(**kwargs)
    if timm.is_model(name):
        return timm.create_model(name, pretrained=False, **kwargs)
    candidates = BACKBONES.names() + timm_names()
    raise UnknownNameError("backbone", name, BACKBONES.suggest(name, candidates))
