"""MIACNet: facial position features from the onset frame tell facial action features where to look.

Our reading of Li, Niu, Zhao (arXiv 2405.16451), following the authors' MMNet conventions
(``docs/miacnet.md`` says what the paper gives and what we chose):

- action branch: a CNN trunk at output stride 16 on the onset->apex change, either the pixel
  difference ``apex - onset`` (``diff="pixel"``, MMNet parity) or the difference of the trunk's
  features of both frames (``diff="feature"``);
- position branch: MMNet's position calibration module (``zoo.backbones.mmnet``) on the onset
  frame shrunk to the action map's grid (14x14 at 224 px, 7x7 at 112 px), as wide as the action
  map;
- fusion: ``gate`` (the default: the position map gates the action map spatially), ``sum``
  (MMNet's) or ``concat``; then flatten, dropout, linear.

The default trunk is MMNet's own (backbone ``mmnet_ca``, shared with the ``mmnet`` model);
``width`` scales its channels (64: paper size, 16: a quarter of them). ``backbone=resnet18_cbam``
is the ResNet-18 + CBAM trunk MIACNet first used; any timm CNN name that supports
``features_only`` and ``output_stride=16`` also works.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.records import InputSpec
from registry import BACKBONES, MODELS
from registry.errors import ConfigError
from zoo.backbones import create_backbone
from zoo.backbones.mmnet import PositionCalibration

PAPER = (  # the MA2MI / MIACNet paper (also the citation of the MA2MI pre-trainer)
    "Li, H., Niu, H., Zhao, F. (University of Science and Technology of China). From Macro to Micro: "
    "Boosting micro-expression recognition via pre-training on macro-expression videos. arXiv 2405.16451, 2024."
)
CITATION = (
    f"{PAPER} Trunk and training "
    "recipe after Li, H., Sui, M., Zhu, Z., Zhao, F. MMNet: Muscle motion-guided network for "
    "micro-expression recognition. IJCAI 2022."
)
# MMNet's fine-tuning recipe (its public training script): AdamW, lr 8e-4, wd 0.6, lr x0.987
# per epoch for the first 50 epochs, 74 epochs, batch 32, 224 px; last epoch evaluated.
DEFAULTS = {
    "epochs": 74,
    "batch_size": 32,
    "lr": 8e-4,
    "weight_decay": 0.6,
    "optimizer": "adamw",
    "lr_decay": 0.987,
    "lr_decay_epochs": 50,
    "input_size": 224,
}
TRUNK = "mmnet_ca"
FUSIONS = ("sum", "gate", "concat")
# The default follows the evidence: on synth-v2 the gate beat the sum (MMNet's) and the
# concatenation at every seed (docs/miacnet.md, "Fusion").
FUSION = "gate"
DIFFS = ("pixel", "feature")
INITS = ("scratch", "imagenet", "ma2mi")


class Trunk(nn.Module):
    """A CNN image -> feature map at stride 16 (``channels`` maps): a registered MER trunk
    scaled by ``width``, or a timm CNN truncated at stride 16."""

    def __init__(self, backbone: str, width: int):
        super().__init__()
        self.is_timm = backbone not in BACKBONES
        if self.is_timm:
            self.net = create_backbone(backbone, features_only=True, output_stride=16, out_indices=(-1,))
            self.channels = self.net.feature_info.channels()[-1]
        else:
            self.net = create_backbone(backbone, width=width)
            self.channels = self.net.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1] if self.is_timm else self.net(x)


class ActionBranch(nn.Module):
    """What moved between onset and apex: a trunk on their pixel or feature difference."""

    def __init__(self, backbone: str, width: int, diff: str):
        super().__init__()
        self.diff = diff
        self.trunk = Trunk(backbone, width)

    @property
    def channels(self) -> int:
        return self.trunk.channels

    def forward(self, onset: torch.Tensor, apex: torch.Tensor) -> torch.Tensor:
        if self.diff == "pixel":
            return self.trunk(apex - onset)
        both = self.trunk(torch.cat([onset, apex]))
        first, second = both.chunk(2)
        return second - first


def position_branch(dim: int) -> PositionCalibration:
    """Where things are on the face: MMNet's PC module (2 blocks, 4 heads, MLP ratio 4) as wide
    as the action map. Unlike MMNet, the onset is shrunk with antialiasing: at the action grid
    (7x7 at 112 px) plain bilinear sampling would read 4 of every 256 pixels."""
    return PositionCalibration(dim, depth=2, heads=4, mlp_ratio=4.0, antialias=True)


class MIACNet(nn.Module):
    """Two-branch MER network: position features (onset) guide action features (onset->apex)."""

    inputs = InputSpec(("onset", "apex"))

    def __init__(
        self,
        num_classes: int,
        backbone: str = TRUNK,
        width: int = 64,
        diff: str = "pixel",
        position: bool = True,
        fusion: str = FUSION,
        grid: int = 7,
        drop_rate: float = 0.5,
    ):
        super().__init__()
        for name, value, allowed in (("diff", diff, DIFFS), ("fusion", fusion, FUSIONS)):
            if value not in allowed:
                raise ConfigError(f"miacnet option {name}={value}: choose one of {', '.join(allowed)}")
        if width < 4:
            raise ConfigError(f"miacnet option width={width}: use at least 4")
        self.action = ActionBranch(backbone, width, diff)
        dim = self.action.channels
        self.position = position_branch(dim) if position else None
        self.fusion = fusion if position else "none"
        self.gate = nn.Conv2d(dim, 1, kernel_size=1) if self.fusion == "gate" else None
        # MMNet flattens its 14x14 map; pooling to a fixed grid first lets one model serve
        # 112 px (7x7 maps) and 224 px (14x14) inputs.
        self.grid = grid
        fused = 2 * dim if self.fusion == "concat" else dim
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(drop_rate), nn.Linear(fused * grid * grid, num_classes)
        )

    def features(self, onset: torch.Tensor, apex: torch.Tensor) -> dict[str, torch.Tensor]:
        """The branches' maps and the fused map (also what the heat maps are made of)."""
        action = self.action(onset, apex)
        out = {"action": action}
        if self.position is None:
            out["fused"] = action
            return out
        position = self.position(onset, tuple(action.shape[-2:]))
        out["position"] = position
        if self.fusion == "sum":
            out["fused"] = action + position
        elif self.fusion == "gate":
            out["gate"] = torch.sigmoid(self.gate(position))
            out["fused"] = action * out["gate"]
        else:
            out["fused"] = torch.cat([action, position], dim=1)
        return out

    def forward(self, onset: torch.Tensor, apex: torch.Tensor) -> torch.Tensor:
        fused = self.features(onset, apex)["fused"]
        return self.head(F.adaptive_avg_pool2d(fused, self.grid))

    @torch.no_grad()
    def attention_maps(self, onset: torch.Tensor, apex: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample heat maps in [0, 1] on the action grid: ``action`` (channel norm of the
        action map) and ``position`` (the gate, or the position map's channel norm)."""
        maps = self.features(onset, apex)
        out = {"action": maps["action"].norm(dim=1)}
        if "gate" in maps:
            out["position"] = maps["gate"][:, 0]
        elif "position" in maps:
            out["position"] = maps["position"].norm(dim=1)
        return {k: _unit_range(v) for k, v in out.items()}


def _unit_range(maps: torch.Tensor) -> torch.Tensor:
    low = maps.flatten(1).min(1).values[:, None, None]
    high = maps.flatten(1).max(1).values[:, None, None]
    return (maps - low) / (high - low).clamp_min(1e-8)


def init_from_imagenet(model: MIACNet, backbone: str, weights: str) -> None:
    """ImageNet weights for the action trunk: timm's published ones (fetched through timm's Hub
    loading into the Hugging Face cache), or a local safetensors state dict (``weights=PATH``)."""
    from zoo.io.weights import load_weights

    if backbone in BACKBONES:
        raise ConfigError(
            f"miacnet init=imagenet: the MER trunk '{backbone}' has no ImageNet weights; "
            "choose a timm backbone with --opt backbone=NAME (e.g. resnet18)"
        )
    trunk = model.action.trunk.net
    if weights:
        load_weights(trunk, Path(weights), ignore_unused=True)
    else:
        kwargs = {"features_only": True, "output_stride": 16, "out_indices": (-1,)}  # as Trunk builds it
        trunk.load_state_dict(create_backbone(backbone, pretrained=True, **kwargs).state_dict())


def _build(
    num_classes: int,
    backbone: str,
    width: int,
    diff: str,
    position: bool,
    fusion: str,
    init: str,
    weights: str,
    drop_rate: float,
) -> MIACNet:
    if init not in INITS:
        raise ConfigError(f"miacnet option init={init}: choose one of {', '.join(INITS)}")
    if weights and init != "imagenet":
        raise ConfigError(
            "miacnet option weights= is for init=imagenet; MA2MI weights come from --pretrained PATH|NAME"
        )
    model = MIACNet(
        num_classes,
        backbone=backbone,
        width=width,
        diff=diff,
        position=position,
        fusion=fusion,
        drop_rate=drop_rate,
    )
    if init == "imagenet":
        init_from_imagenet(model, backbone, weights)
    return model


# Options a loaded MA2MI checkpoint implies; the runner sets them when --pretrained is given.
PRETRAINED_OPTIONS = {"init": "ma2mi"}
# Options that build the architecture alone, for loading saved weights that replace all others.
SCRATCH_OPTIONS = {"init": "scratch", "weights": ""}


@MODELS.register(
    "miacnet",
    citation=CITATION,
    defaults=DEFAULTS,
    parameters_5_classes=9_063_034,
    pretrained_options=PRETRAINED_OPTIONS,
    scratch_options=SCRATCH_OPTIONS,
)
def miacnet(
    num_classes: int,
    backbone: str = TRUNK,
    width: int = 64,
    diff: str = "pixel",
    position: bool = True,
    fusion: str = FUSION,
    init: str = "scratch",
    weights: str = "",
    drop_rate: float = 0.5,
) -> MIACNet:
    """MIACNet (position + action branches), from scratch unless init/--pretrained say otherwise."""
    return _build(num_classes, backbone, width, diff, position, fusion, init, weights, drop_rate)


@MODELS.register(
    "miacnet-ma2mi",
    citation=CITATION,
    defaults=DEFAULTS,
    pretrained="ma2mi-synth-macro",
    pretrained_options=PRETRAINED_OPTIONS,
    scratch_options=SCRATCH_OPTIONS,
)
def miacnet_ma2mi(
    num_classes: int,
    backbone: str = TRUNK,
    width: int = 64,
    diff: str = "pixel",
    position: bool = True,
    fusion: str = FUSION,
    init: str = "ma2mi",
    weights: str = "",
    drop_rate: float = 0.5,
) -> MIACNet:
    """MIACNet fine-tuned from MA2MI pre-training (pre-trained once per trunk, cached in ZOO_CACHE)."""
    return _build(num_classes, backbone, width, diff, position, fusion, init, weights, drop_rate)
