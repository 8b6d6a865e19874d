"""MMNet's two branches (Li et al., IJCAI 2022) as its official code builds them, shared by the
``mmnet`` model and by ``miacnet`` (which MMNet's authors built on MMNet).

- :class:`MMNetTrunk`, registered as backbone ``mmnet_ca``: the main branch on the apex - onset
  pixel difference. ``conv_act`` (3x3, stride 2, BN, ReLU), a 3x3 conv (BN, ReLU), then four
  continuous-attention (CA) blocks (one block per stage: 128, 128/2, 256/2, 512/2 channels at
  paper size), ending at stride 16: 512x14x14 at 224 px.
- :class:`PositionCalibration`: the position calibration (PC) module, a small ViT on the onset
  frame shrunk to a 14x14 grid, one token per cell, returned as a map shaped like the trunk's.

``width`` scales every trunk channel count by ``width / 64`` (64: paper size; 16: a quarter of
the channels, the CPU-sized trunk), so the trunk ends at ``8 * width`` channels.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import Block

from registry import BACKBONES
from registry.errors import ConfigError

CITATION = (
    "Li, H., Sui, M., Zhu, Z., Zhao, F. MMNet: Muscle motion-guided network for micro-expression "
    "recognition. IJCAI 2022 (arXiv 2201.05297); official code github.com/muse1998/MMNet."
)
PAPER_WIDTH = 64
STEM_CHANNELS = 180  # conv_act's output at paper size
BLOCK_CHANNELS = (128, 128, 256, 512)  # the 3x3 conv after conv_act outputs the first
BLOCK_STRIDES = (1, 2, 2, 2)
POSITION_GRID = 14  # the PC module's native grid (224 px / 16)


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class CABlock(nn.Module):
    """Continuous attention block: a residual unit (3x3 conv-BN-ReLU, 1x1 conv-BN, shortcut,
    ReLU) whose output is multiplied by a spatial attention map. The map comes from the channel
    mean and max (1x1 conv, BN, sigmoid) times the previous block's max-pooled map, so attention
    accumulates from block to block."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )
        self.attn = nn.Sequential(nn.Conv2d(2, 1, 1, bias=False), nn.BatchNorm2d(1), nn.Sigmoid())

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The features before attention."""
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))

    def attention(self, features: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, H, W) map in [0, 1]: this block's map times the previous block's (``prior``)."""
        stats = torch.cat([features.mean(1, keepdim=True), features.amax(1, keepdim=True)], dim=1)
        attention = self.attn(stats)
        return attention if prior is None else attention * prior

    def forward(self, x: torch.Tensor, prior: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.residual(x)
        attention = self.attention(features, prior)
        return features * attention, attention


class MMNetTrunk(nn.Module):
    """MMNet's main branch: image (the apex - onset difference) -> stride-16 map, ``num_features``
    (``8 * width``) channels."""

    def __init__(self, width: int = PAPER_WIDTH):
        super().__init__()
        stem = STEM_CHANNELS * width // PAPER_WIDTH
        channels = [c * width // PAPER_WIDTH for c in BLOCK_CHANNELS]
        self.conv_act = _conv_bn_relu(3, stem, stride=2)
        self.conv = _conv_bn_relu(stem, channels[0], stride=1)
        inputs = [channels[0], *channels[:-1]]
        self.blocks = nn.ModuleList(CABlock(i, o, s) for i, o, s in zip(inputs, channels, BLOCK_STRIDES))
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)  # carries a block's map to the next stride
        self.num_features = channels[-1]
        # The official ResNet initialises its own convolutions (Kaiming, fan-out); conv_act,
        # which lives outside it, keeps PyTorch's default.
        for module in [*self.conv.modules(), *self.blocks.modules()]:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The final map and each CA block's (cumulative) attention map."""
        x = self.conv(self.conv_act(x))
        maps: list[torch.Tensor] = []
        for block in self.blocks:
            x, attention = block(x, self.pool(maps[-1]) if maps else None)
            maps.append(attention)
        return x, maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]


@BACKBONES.register("mmnet_ca", citation=CITATION)
def mmnet_ca(width: int = PAPER_WIDTH) -> MMNetTrunk:
    """MMNet's continuous-attention trunk (stride 16, 8*width channels; width 64 = paper size)."""
    if width < 1:
        raise ConfigError(f"backbone mmnet_ca: width={width}; use a positive integer (64 = paper size)")
    return MMNetTrunk(width)


class PositionCalibration(nn.Module):
    """MMNet's PC module: the onset frame resized to a grid, one token per cell (a 1x1 conv:
    patch size 1) plus a learned position embedding, a ViT (qkv bias, LayerNorm eps 1e-6, final
    norm), reshaped to a ``dim`` x grid map.

    The grid is 14x14 in MMNet; other grids interpolate the position embedding. Attention is
    computed explicitly (q k^T, softmax, v) as the official module does, not by the fused kernel:
    same numbers, and torch's FLOP counter counts the matrix products in every torch version
    (2.14 does not count the fused CPU kernel, 2.15 does).
    """

    def __init__(
        self,
        dim: int = 512,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        antialias: bool = False,
    ):
        super().__init__()
        if dim % heads:
            raise ConfigError(f"position calibration: width {dim} is not divisible by {heads} heads")
        self.antialias = antialias
        self.embed = nn.Conv2d(3, dim, kernel_size=1)
        self.pos = nn.Parameter(torch.zeros(1, dim, POSITION_GRID, POSITION_GRID))
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.blocks = nn.Sequential(
            *[
                Block(dim, heads, mlp_ratio=mlp_ratio, qkv_bias=True, drop_path=rate, norm_layer=norm)
                for rate in torch.linspace(0, drop_path, depth).tolist()  # stochastic depth rule
            ]
        )
        for block in self.blocks:
            block.attn.fused_attn = False
        self.norm = norm(dim)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks.apply(_init_vit_linear)

    def forward(
        self, onset: torch.Tensor, grid: tuple[int, int] = (POSITION_GRID, POSITION_GRID)
    ) -> torch.Tensor:
        small = F.interpolate(
            onset, size=grid, mode="bilinear", antialias=self.antialias, align_corners=False
        )
        pos = F.interpolate(self.pos, size=grid, mode="bicubic", align_corners=False)
        tokens = (self.embed(small) + pos).flatten(2).transpose(1, 2)
        tokens = self.norm(self.blocks(tokens))
        return tokens.transpose(1, 2).reshape(onset.shape[0], -1, *grid)


def _init_vit_linear(module: nn.Module) -> None:
    """The official ViT initialisation of linear layers (truncated normal, std 0.02; zero bias)."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
