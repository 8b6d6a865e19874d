"""RCN: a shallow recurrent convolutional network with parameter-free modules (MEGC 2019).

As the authors' code (``xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec`` MeNets.py and the
defaults of ModelTrain_Final.py: ``rcn_a``, model version 3, 64 feature maps, pool size 7,
SGD lr 5e-4 momentum 0.9, batch 64, 100 epochs, last epoch; its StepLR scheduler is never
stepped, so the rate is constant):

- stem: 5x5 convolution (no padding) -> BN -> ReLU -> 2x2 max-pool -> dropout 0.5;
- recurrent block: a 1x1 feed-forward convolution ``y = f(x)``, then one 3x3 convolution
  applied twice with the same weights, ``y = r(x + y)``, ``y = r(x + y)`` (BN + ReLU each),
  then 2x2 max-pool and dropout;
- adaptive average pooling to ``pool_size`` x ``pool_size``, one linear classifier.

``module`` picks the parameter-free module, none of which adds a learnable parameter:
``attention`` (RCN-A, the default of the released script): class activation maps of the
pooled stem features, computed with the classifier's own weights, min-max normalised per class
and averaged over classes, multiply the pooled recurrent features; ``shortcut`` (RCN-S): the
recurrent block becomes a dense block (``y = f(x)``, ``z = r(x+y)``, ``e = r(x+y+z)``,
``out = r(x+y+z+e)``); ``wide`` (RCN-W): the stem becomes three parallel strided 3x3
convolutions (dilation 1, 2, 3; half, a quarter and a quarter of the maps). The released RCN-P
and RCN-F classes do not run (their ``super().__init__`` names a missing class) and RCN-S's
third convolution is never used; we leave both out.

Input: the official scripts read a 3-channel optical-flow PNG as RGB in [0, 1] and do not say
what its channels are; we use u, v and the flow magnitude, min-max scaled. The script fixes no
size either (adaptive pooling takes any); 60 px is where pool size 7 is exact (60 -> 56 -> 28
-> 14 -> 7), the low resolution the paper argues for.

Parameters (64 maps, pool 7): 46,336 + 3,137 x classes (55,747 at 3 classes) for ``attention``
and ``shortcut``, 43,264 + 3,137 x classes for ``wide``.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.records import InputSpec
from registry import MODELS
from registry.errors import ConfigError
from zoo.models._flow_baselines import megc2019_reported, stack_flow

CITATION = (
    "Xia, Z., Peng, W., Khor, H.-Q., Feng, X., Zhao, G. Revealing the Invisible With Model and "
    "Data Shrinking for Composite-Database Micro-Expression Recognition. IEEE Transactions on "
    "Image Processing 29, 2020; code: github.com/xiazhaoqiang/ParameterFreeRCNs-MicroExpressionRec."
)
_SCRIPT = "official ModelTrain_Final.py defaults"
DEFAULTS = {
    "epochs": 100,
    "batch_size": 64,
    "lr": 5e-4,
    "weight_decay": 0.0,
    "optimizer": "sgd",
    "input_size": 60,
    "selection": "last",
    "augment": "none",
}
DEFAULT_SOURCES = {
    "epochs": f"{_SCRIPT}: --epochs 100 (the README's example command uses 20)",
    "batch_size": f"{_SCRIPT}: --batchsize 64",
    "lr": f"{_SCRIPT}: --learningrate 0.0005, constant (StepLR created but never stepped)",
    "weight_decay": f"{_SCRIPT}: optim.SGD without weight decay",
    "optimizer": f"{_SCRIPT}: optim.SGD(momentum=0.9), the mer-zoo trainer's SGD momentum",
    "input_size": "not fixed by the code (adaptive pooling); 60 px makes the default pool size 7 exact",
    "selection": f"{_SCRIPT}: the model after the last epoch is tested",
    "augment": f"{_SCRIPT}: transforms.ToTensor() only",
}
REPORTED = megc2019_reported(
    "Xia et al. TIP 2020",
    {None: (0.7432, 0.7190), "smic": (0.6326, 0.6441), "casme2": (0.8512, 0.8123), "samm": (0.7601, 0.6715)},
    caveat="which RCN variant (A, S, W or a combination) these figures belong to is not checked here",
)
MODULES = ("attention", "shortcut", "wide")


def _conv_bn_relu(cin: int, cout: int, kernel: int, **conv) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, **conv), nn.BatchNorm2d(cout), nn.ReLU())


class RecurrentBlock(nn.Module):
    """RCN's recurrent convolutional layer: one 3x3 convolution unrolled over two steps (RCN-A,
    RCN-W), or three steps with dense sums of all earlier outputs (``dense``: RCN-S)."""

    def __init__(self, channels: int, dense: bool = False):
        super().__init__()
        self.dense = dense
        self.feed = _conv_bn_relu(channels, channels, 1)
        self.recur = _conv_bn_relu(channels, channels, 3, padding=1)
        self.down = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.feed(x)
        z = self.recur(x + y)
        if self.dense:
            e = self.recur(x + y + z)
            return self.down(self.recur(x + y + z + e))
        return self.down(self.recur(x + z))


def class_activation_attention(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """RCN-A's parameter-free attention: per class, the classifier's weights (read as maps
    shaped like ``features``) times the features, averaged over channels, min-max scaled to
    [0, 1] over space; the mean over classes is one (N, 1, P, P) map. The official code divides
    by the range without a guard (NaN for a flat map); we clamp it."""
    _, c, p, _ = features.shape
    cams = (features.unsqueeze(1) * weight.view(1, -1, c, p, p)).mean(2)  # (N, classes, P, P)
    cams = cams - cams.amin((2, 3), keepdim=True)
    cams = cams / cams.amax((2, 3), keepdim=True).clamp_min(1e-12)
    return cams.mean(1, keepdim=True)


class WideStem(nn.Module):
    """RCN-W's stem: three parallel stride-3 3x3 convolutions of dilation 1, 2 and 3 (ReLU, BN,
    dropout each), concatenated to ``channels`` maps."""

    def __init__(self, channels: int):
        super().__init__()
        widths = (channels // 2, channels // 4, channels // 4)
        self.streams = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3, width, 3, stride=3, padding=dilation, dilation=dilation),
                nn.ReLU(),
                nn.BatchNorm2d(width),
                nn.Dropout(0.5),
            )
            for dilation, width in enumerate(widths, start=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([stream(x) for stream in self.streams], dim=1)


class RCN(nn.Module):
    """Stem -> recurrent block -> adaptive pooling -> linear, with one parameter-free module."""

    inputs = InputSpec(("flow", "magnitude"), scaling="minmax")

    def __init__(
        self, num_classes: int, featuremaps: int = 64, pool_size: int = 7, module: str = "attention"
    ):
        super().__init__()
        if module not in MODULES:
            raise ConfigError(f"rcn option module={module}: choose one of {', '.join(MODULES)}")
        if featuremaps < 1 or (module == "wide" and featuremaps % 4):
            raise ConfigError(
                f"rcn option featuremaps={featuremaps}: use a positive number (module=wide: a multiple of 4)"
            )
        if pool_size < 1:
            raise ConfigError(f"rcn option pool_size={pool_size}: use at least 1")
        self.module, self.pool_size = module, pool_size
        if module == "wide":
            self.stem = WideStem(featuremaps)
        else:
            self.stem = nn.Sequential(_conv_bn_relu(3, featuremaps, 5), nn.MaxPool2d(2), nn.Dropout(0.5))
        self.block = RecurrentBlock(featuremaps, dense=module == "shortcut")
        self.classifier = nn.Linear(pool_size * pool_size * featuremaps, num_classes)
        for m in self.modules():  # the official initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, flow: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
        x = self.stem(stack_flow(flow, magnitude))
        features = F.adaptive_avg_pool2d(self.block(x), self.pool_size)
        if self.module == "attention":
            pooled_stem = F.adaptive_avg_pool2d(x, self.pool_size)
            features = features * class_activation_attention(pooled_stem, self.classifier.weight)
        return self.classifier(features.flatten(1))


@MODELS.register(
    "rcn",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
)
def rcn(num_classes: int, featuremaps: int = 64, pool_size: int = 7, module: str = "attention") -> RCN:
    """RCN (Xia et al., TIP 2020) as its official code: RCN-A by default; module=shortcut|wide for RCN-S/W."""
    return RCN(num_classes, featuremaps=featuremaps, pool_size=pool_size, module=module)
