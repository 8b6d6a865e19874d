"""Dual-Inception: two small Inception streams on the horizontal and vertical TV-L1 flow.

As the authors' Keras code (``xly135846/MEGC2019`` dual_inception.py, the repository the paper
names): per stream two Inception blocks, each with four paths of equal width (1x1; 1x1 -> 3x3;
1x1 -> 5x5; 3x3 max-pool -> 1x1; ReLU after every convolution, 'same' padding), 6 filters per
path in block 1 (24 maps) and 16 in block 2 (64 maps), a 2x2 max-pool after each (28 -> 14 ->
7); both streams flattened and concatenated (2 x 64 x 7 x 7 = 6,272) -> FC 1024 + ReLU ->
classes.

Parameters at 3 classes: per stream 1,284 (block 1) + 10,336 (block 2), twice, plus
6,423,552 + 3,075 fully connected = 6,449,867. The Keras code reads each flow component as a
3-channel image, which adds 2 x 4 x 6 x 2 = 96 first-layer weights (6,449,963); we feed the
single-channel u and v maps.

The paper computes the flow from the onset to the middle frame of each clip; mer-zoo's flow is
onset->apex.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from registry import MODELS
from zoo.models._flow_baselines import TwoStream, megc2019_reported

CITATION = (
    "Zhou, L., Mao, Q., Xue, L. Dual-Inception Network for Cross-Database Micro-Expression "
    "Recognition. IEEE FG 2019 (MEGC 2019); code: github.com/xly135846/MEGC2019."
)
_CODE = "official dual_inception.py (github.com/xly135846/MEGC2019)"
DEFAULTS = {
    "epochs": 40,
    "batch_size": 3,
    "lr": 1e-4,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "input_size": 28,
    "selection": "val",
    "augment": "none",
}
DEFAULT_SOURCES = {
    "epochs": f"{_CODE}: model.fit(epochs=40)",
    "batch_size": f"{_CODE}: model.fit(batch_size=3)",
    "lr": f"{_CODE}: Adam(lr=0.0001)",
    "weight_decay": f"{_CODE}: Adam without weight decay",
    "optimizer": "Adam without weight decay = AdamW with weight_decay 0 (identical update)",
    "input_size": f"{_CODE}: Input(shape=[28, 28, 3]) per flow component",
    "selection": f"{_CODE}: ModelCheckpoint(save_best_only=True) on the validation loss of held-out "
    "training subjects (never the test subject); mer-zoo's 'val' holds out 20% of the training "
    "subjects and keeps the best validation UF1",
    "augment": f"{_CODE}: no augmentation",
}
REPORTED = megc2019_reported(
    "Zhou et al. FG 2019",
    {None: (0.7322, 0.7278), "smic": (0.6645, 0.6726), "casme2": (0.8621, 0.8560), "samm": (0.5868, 0.5663)},
    caveat="the public code validates on the other subjects of the test subject's own database and "
    "trains on the other two databases only; whether the paper's figures came from it is not stated",
)
BLOCK_WIDTHS = (6, 16)  # filters per path in Inception block 1 and 2


def _conv(cin: int, cout: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.ReLU()]


class InceptionBlock(nn.Module):
    """Four parallel paths of ``width`` maps each (1x1; 1x1->3x3; 1x1->5x5; maxpool->1x1),
    concatenated, then a 2x2 max-pool."""

    def __init__(self, cin: int, width: int):
        super().__init__()
        self.paths = nn.ModuleList(
            [
                nn.Sequential(*_conv(cin, width, 1)),
                nn.Sequential(*_conv(cin, width, 1), *_conv(width, width, 3)),
                nn.Sequential(*_conv(cin, width, 1), *_conv(width, width, 5)),
                nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), *_conv(cin, width, 1)),
            ]
        )
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.cat([path(x) for path in self.paths], dim=1))


def _stream() -> nn.Sequential:
    first, second = BLOCK_WIDTHS
    return nn.Sequential(InceptionBlock(1, first), InceptionBlock(4 * first, second))


class DualInception(TwoStream):
    """Two 2-block Inception streams (u, v), then FC 1024 + ReLU -> classes."""

    def __init__(self, num_classes: int):
        width = 4 * BLOCK_WIDTHS[-1]
        head = nn.Sequential(nn.Linear(2 * width * 7 * 7, 1024), nn.ReLU(), nn.Linear(1024, num_classes))
        super().__init__(_stream, head)
        for module in self.modules():  # Keras' defaults: Glorot-uniform weights, zero biases
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)


@MODELS.register(
    "dual-inception",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
)
def dual_inception(num_classes: int) -> DualInception:
    """Dual-Inception (Zhou et al., FG 2019) as its authors' Keras code: Inception streams on u and v."""
    return DualInception(num_classes)
