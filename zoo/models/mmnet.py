"""MMNet: muscle-motion patterns from the apex - onset difference, calibrated by where they are
on the face (Li, Sui, Zhu, Zhao, IJCAI 2022), built as its official code builds it.

- main branch: ``apex - onset`` through MMNet's CA trunk (backbone ``mmnet_ca``,
  ``zoo.backbones.mmnet``): 512x14x14 at 224 px;
- position calibration: the **onset** frame resized to 14x14, a ViT (patch 1, dim 512, 4 heads,
  qkv bias), 512x14x14, **added** to the main branch's map;
- head: flatten 512x196 -> linear (no dropout: the official one is defined but never used).

Other input sizes: the main branch's map is brought to 14x14 by adaptive average pooling (the
identity at 224 px, each cell repeated 2x2 at 112 px), so the position branch and the head are
the official ones at every size. The official module also holds parameters its forward never
uses (a 1x1 ``pos`` conv, a 12544->38 ``head``, ``timeembed``, the ViT's class token, head and
mask layer); they are left out (``docs/mmnet.md`` counts them).

Known deviation: during training the official dataset jitters the onset and apex frames
(``CASME2_5.py``: onset drawn from the first ~4 % of the onset->apex span, apex from the last
~4 %); the preprocessing cache holds only the annotated onset and apex frames, so mer-zoo
always uses those.

Two entries: ``mmnet`` (``CASME2_5.py``, 5 classes) and ``mmnet-3`` (``CASME2_3.py``: ViT depth 3,
MLP ratio 2, stochastic depth 0.3, and its own recipe). A second entry rather than an option,
because the recipes differ too and defaults belong to an entry: an option would silently train
the 3-class network with the 5-class recipe.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.records import InputSpec
from registry import MODELS
from registry.reported import Reported
from zoo.backbones import create_backbone
from zoo.backbones.mmnet import CITATION, POSITION_GRID, PositionCalibration

CODE = "muse1998/MMNet"
DEFAULTS = {
    "epochs": 74,
    "batch_size": 32,
    "lr": 8e-4,
    "weight_decay": 0.6,
    "optimizer": "adamw",
    "lr_decay": 0.987,
    "lr_decay_epochs": 50,
    "input_size": 224,
    "selection": "last",
    "augment": "flip-rotate-crop",
}
DEFAULT_SOURCES = {
    "epochs": f"{CODE} CASME2_5.py: for i in range(1, 75)",
    "batch_size": f"{CODE} CASME2_5.py: DataLoader(batch_size=32)",
    "lr": f"{CODE} CASME2_5.py: AdamW(lr=0.0008)",
    "weight_decay": f"{CODE} CASME2_5.py: AdamW(weight_decay=0.6)",
    "optimizer": f"{CODE} CASME2_5.py: torch.optim.AdamW",
    "lr_decay": f"{CODE} CASME2_5.py: ExponentialLR(gamma=0.987)",
    "lr_decay_epochs": f"{CODE} CASME2_5.py: scheduler.step() only while epoch <= 50",
    "input_size": f"{CODE} CASME2_5.py: Resize((224, 224))",
    "selection": f"mer-zoo protocol; {CODE} CASME2_5.py keeps each test subject's best epoch",
    "augment": f"{CODE} CASME2_5.py: RandomHorizontalFlip, RandomRotation(3), RandomCrop(224, padding=15)",
}
DEFAULTS_3 = {**DEFAULTS, "epochs": 99, "batch_size": 24, "weight_decay": 0.7}
DEFAULT_SOURCES_3 = {
    **{k: v.replace("CASME2_5.py", "CASME2_3.py") for k, v in DEFAULT_SOURCES.items()},
    "epochs": f"{CODE} CASME2_3.py: for i in range(1, 100)",
    "batch_size": f"{CODE} CASME2_3.py: DataLoader(batch_size=24)",
    "weight_decay": f"{CODE} CASME2_3.py: AdamW(weight_decay=0.7)",
    "augment": f"nearest available: {CODE} CASME2_3.py uses RandomHorizontalFlip, RandomRotation(4), "
    "RandomCrop(224, padding=4); flip-rotate-crop rotates up to 3 degrees and pads 15 px",
}

# Figures of the paper. Its F1 is, in the official scripts, per-class F1 from true positives,
# predictions and labels pooled over all folds, averaged over the classes: MEGC's UF1. Every
# fold contributes the epoch with the best F1 on its own test subject (its author confirmed
# that the paper's figures were obtained this way).
JITTER = "training jitters the onset and apex frames"
REPORTED = (
    Reported(
        dataset="casme2",
        class_set="casme2-5",
        protocol="loso",
        source="Li et al., IJCAI 2022; computed as in CASME2_5.py",
        uf1=0.8676,
        accuracy=0.8835,
        selection="test-subject-best",
        caveat="accuracy sums each subject's best-accuracy epoch, which may differ from the "
        f"best-F1 epoch used for UF1; {JITTER}",
    ),
    Reported(
        dataset="mmew",
        class_set="mmew-4",
        protocol="loso",
        source="Li et al., IJCAI 2022",
        accuracy=0.8745,
        selection="test-subject-best",
        caveat="F1 0.8635 not recorded as UF1: the official repository has no MMEW script, so "
        "neither the F1 computation nor the 4-class mapping could be checked (mer-zoo registers "
        "only mmew-7)",
    ),
)
REPORTED_3 = (
    Reported(
        dataset="casme2",
        class_set="casme2-3-mmnet",
        protocol="loso",
        source="Li et al., IJCAI 2022; computed as in CASME2_3.py",
        uf1=0.9494,
        accuracy=0.9551,
        selection="test-subject-best",
        caveat="MMNet's own 3 classes, not MEGC's casme2-3: negative = disgust, repression, fear, "
        "sadness; positive = happiness; surprise; others left out. Accuracy as for casme2-5; "
        f"{JITTER}",
    ),
)


class MMNet(nn.Module):
    """Main branch on apex - onset plus position calibration from the onset; flatten, linear."""

    inputs = InputSpec(("onset", "apex"))

    def __init__(self, num_classes: int, vit_depth: int = 2, mlp_ratio: float = 4.0, drop_path: float = 0.0):
        super().__init__()
        self.trunk = create_backbone("mmnet_ca")
        # The official code resizes a tensor with torchvision's Resize, which did not antialias
        # tensors before torchvision 0.17 (2024): plain bilinear.
        self.position = PositionCalibration(
            self.trunk.num_features, vit_depth, heads=4, mlp_ratio=mlp_ratio, drop_path=drop_path
        )
        self.head = nn.Linear(self.trunk.num_features * POSITION_GRID**2, num_classes)

    def features(self, onset: torch.Tensor, apex: torch.Tensor) -> dict[str, torch.Tensor]:
        """The main branch's map (at 14x14), the position map, and their sum."""
        action = F.adaptive_avg_pool2d(self.trunk(apex - onset), POSITION_GRID)
        position = self.position(onset)
        return {"action": action, "position": position, "fused": action + position}

    def forward(self, onset: torch.Tensor, apex: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(onset, apex)["fused"].flatten(1))


@MODELS.register(
    "mmnet",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
    parameters_5_classes=9_438_841,
)
def mmnet(num_classes: int) -> MMNet:
    """MMNet (CASME2_5.py): CA trunk on apex - onset plus a 2-block ViT position calibration."""
    return MMNet(num_classes)


@MODELS.register(
    "mmnet-3",
    citation=CITATION,
    defaults=DEFAULTS_3,
    default_sources=DEFAULT_SOURCES_3,
    reported=REPORTED_3,
    parameters_3_classes=9_241_719,
)
def mmnet_3(num_classes: int) -> MMNet:
    """MMNet's 3-class variant (CASME2_3.py): ViT depth 3, MLP ratio 2, stochastic depth 0.3."""
    return MMNet(num_classes, vit_depth=3, mlp_ratio=2.0, drop_path=0.3)
