"""OFF-ApexNet: two LeNet-style streams on the horizontal and vertical onset->apex flow.

The authors released no code; this follows the paper's layout as reimplemented in
``ECNU-Cross-Innovation-Lab/PRICAI2021-Off-TANet`` (models/off_apexnet.py): per stream a 5x5
convolution with 6 filters, 2x2 max-pool, a 5x5 convolution with 16 filters, 2x2 max-pool
('same' padding, so 28 -> 14 -> 7: 16 x 7 x 7 = 784 features), both streams concatenated
(1,568) into FC 1024 -> FC 1024 -> classes with dropout 0.5 after each hidden layer. We put a
ReLU after each convolution (the reimplementation has none, which would make each stream's two
convolutions one linear map up to the pooling).

Parameters at 3 classes: 2 x (156 + 2,416) convolutions + 1,606,656 + 1,049,600 + 3,075
fully connected = 2,664,475, the 2.66 M the reimplementation's README reports.
"""

from __future__ import annotations

import torch.nn as nn

from registry import MODELS
from zoo.models._flow_baselines import TwoStream, megc2019_reported

CITATION = (
    "Gan, Y.S., Liong, S.-T., Yau, W.-C., Huang, Y.-C., Tan, L.-K. OFF-ApexNet on "
    "micro-expression recognition system. Signal Processing: Image Communication 74, 2019."
)
_REIMPLEMENTATION = "PRICAI2021-Off-TANet reimplementation (train_arg.py, off-apexnet branch)"
DEFAULTS = {
    "epochs": 3000,
    "batch_size": 64,
    "lr": 1e-4,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "input_size": 28,
    "selection": "last",
    "augment": "none",
}
DEFAULT_SOURCES = {
    "epochs": f"{_REIMPLEMENTATION}: n_epochs = 3000 (no official code)",
    "batch_size": f"{_REIMPLEMENTATION}: batch_size = 64",
    "lr": f"{_REIMPLEMENTATION}: optim.Adam(lr=1e-4)",
    "weight_decay": f"{_REIMPLEMENTATION}: Adam without weight decay",
    "optimizer": "Adam without weight decay = AdamW with weight_decay 0 (identical update)",
    "input_size": "Gan et al. 2019: 28x28 optical-flow images",
    "selection": "mer-zoo: the last epoch (no official code; the paper does not say)",
    "augment": "none reported",
}
REPORTED = megc2019_reported(
    "Liong et al. FG 2019 (STSTNet), Table III",
    {None: (0.7196, 0.7096), "smic": (0.6817, 0.6695), "casme2": (0.8764, 0.8681), "samm": (0.5409, 0.5392)},
    caveat="figures for OFF-ApexNet as run by the STSTNet authors on the MEGC 2019 composite",
)


def _stream() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class OffApexNet(TwoStream):
    """Two conv5x5(6) -> pool -> conv5x5(16) -> pool streams (u, v), then FC 1024 -> FC 1024."""

    def __init__(self, num_classes: int, drop_rate: float = 0.5):
        head = nn.Sequential(
            nn.Linear(2 * 16 * 7 * 7, 1024),
            nn.ReLU(),
            nn.Dropout(drop_rate),
            nn.Linear(1024, 1024),
            nn.ReLU(),
            nn.Dropout(drop_rate),
            nn.Linear(1024, num_classes),
        )
        super().__init__(_stream, head)


@MODELS.register(
    "off-apexnet",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
)
def off_apexnet(num_classes: int, drop_rate: float = 0.5) -> OffApexNet:
    """OFF-ApexNet (Gan et al., SPIC 2019): two LeNet-style streams on 28 px u and v flow."""
    return OffApexNet(num_classes, drop_rate=drop_rate)
