"""Baselines: any timm CNN on the onset->apex motion (optical flow or frame difference) or on
the apex frame alone.

The common first baseline of MER papers (e.g. the ResNet-18 on optical flow of Off-ApexNet
and STSTNet's inputs), kept deliberately plain so the harness has a reference point.
``timm-flow``, ``timm-diff`` and ``timm-apex`` take any timm name as ``backbone``;
``flow_resnet18`` and ``diff_resnet18`` are ``timm-flow`` and ``timm-diff`` under their
original names, kept so their results and run ids stay comparable.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.records import InputSpec
from registry import MODELS
from zoo.backbones import create_backbone

CITATION = (
    "He, K., Zhang, X., Ren, S., Sun, J. Deep Residual Learning for Image Recognition. CVPR "
    "2016; motion input as in Gan, Y.S. et al. OFF-ApexNet on micro-expression recognition "
    "system. Signal Processing: Image Communication 74, 2019."
)
TIMM_CITATION = (
    "Wightman, R. PyTorch Image Models (timm), github.com/huggingface/pytorch-image-models; "
    "cite the chosen backbone's paper as well."
)
DEFAULTS = {
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 0.05,
    "optimizer": "adamw",
    "input_size": 112,
}
MOTION_INPUTS = {"flow": ("flow",), "diff": ("onset", "apex"), "apex": ("apex",)}


class MotionCNN(nn.Module):
    """A timm backbone on a 3-channel image of the clip.

    ``motion="flow"``: horizontal flow, vertical flow and flow magnitude.
    ``motion="diff"``: the RGB difference apex - onset.
    ``motion="apex"``: the RGB apex frame alone (no motion: a static-appearance reference).
    ``pool``: the image is averaged over ``pool x pool`` blocks first. Pixel-level flow
    of a one- or two-pixel movement is noisy; block averages keep the motion and drop the
    noise (MER flow networks work on 28-64 px inputs for this reason), and cost less.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet18",
        motion: str = "flow",
        drop_rate: float = 0.2,
        pool: int = 2,
    ):
        super().__init__()
        if motion not in MOTION_INPUTS:
            raise ValueError(f"motion must be one of {', '.join(MOTION_INPUTS)}, not {motion!r}")
        if pool < 1:
            raise ValueError(f"pool must be >= 1, not {pool}")
        self.motion, self.pool = motion, pool
        self.inputs = InputSpec(MOTION_INPUTS[motion])
        self.net = create_backbone(backbone, num_classes=num_classes, in_chans=3, drop_rate=drop_rate)

    def forward(
        self,
        flow: torch.Tensor | None = None,
        onset: torch.Tensor | None = None,
        apex: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.motion == "flow":
            image = torch.cat([flow, flow.norm(dim=1, keepdim=True)], dim=1)
        elif self.motion == "diff":
            image = apex - onset
        else:
            image = apex
        return self.net(F.avg_pool2d(image, self.pool) if self.pool > 1 else image)


@MODELS.register("timm-flow", citation=TIMM_CITATION, defaults=DEFAULTS)
def timm_flow(
    num_classes: int, backbone: str = "resnet18", drop_rate: float = 0.2, pool: int = 2
) -> MotionCNN:
    """Any timm CNN (--opt backbone=NAME, from scratch) on onset->apex optical flow (u, v, magnitude)."""
    return MotionCNN(num_classes, backbone=backbone, motion="flow", drop_rate=drop_rate, pool=pool)


@MODELS.register("timm-diff", citation=TIMM_CITATION, defaults=DEFAULTS)
def timm_diff(
    num_classes: int, backbone: str = "resnet18", drop_rate: float = 0.2, pool: int = 2
) -> MotionCNN:
    """Any timm CNN (--opt backbone=NAME, from scratch) on the RGB frame difference apex - onset."""
    return MotionCNN(num_classes, backbone=backbone, motion="diff", drop_rate=drop_rate, pool=pool)


@MODELS.register("timm-apex", citation=TIMM_CITATION, defaults=DEFAULTS)
def timm_apex(
    num_classes: int, backbone: str = "resnet18", drop_rate: float = 0.2, pool: int = 2
) -> MotionCNN:
    """Any timm CNN (--opt backbone=NAME, from scratch) on the RGB apex frame alone (no motion)."""
    return MotionCNN(num_classes, backbone=backbone, motion="apex", drop_rate=drop_rate, pool=pool)


@MODELS.register("flow_resnet18", citation=CITATION, defaults=DEFAULTS)
def flow_resnet18(
    num_classes: int, backbone: str = "resnet18", drop_rate: float = 0.2, pool: int = 2
) -> MotionCNN:
    """ResNet-18 (timm, from scratch) on onset->apex optical flow (u, v, magnitude)."""
    return MotionCNN(num_classes, backbone=backbone, motion="flow", drop_rate=drop_rate, pool=pool)


@MODELS.register("diff_resnet18", citation=CITATION, defaults=DEFAULTS)
def diff_resnet18(
    num_classes: int, backbone: str = "resnet18", drop_rate: float = 0.2, pool: int = 2
) -> MotionCNN:
    """ResNet-18 (timm, from scratch) on the plain frame difference apex - onset."""
    return MotionCNN(num_classes, backbone=backbone, motion="diff", drop_rate=drop_rate, pool=pool)
