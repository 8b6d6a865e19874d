"""HTNet: a hierarchical transformer on four facial blocks of the u/v/strain image.

As the authors' release (``wangzhifengharrison/HTNet`` Model.py and main_HTNet.py):

- input: STSTNet's 28 x 28 u/v/optical-strain image. Four 14 x 14 blocks are cut around
  facial landmarks and tiled 2 x 2 into a new 28 x 28 image. The release detects five MTCNN
  landmarks on the apex frame and, where MTCNN finds no face, uses fixed ones; no landmark
  detector can be downloaded here, so we always use those fixed landmarks
  (``FALLBACK_LANDMARKS``), clipped to [7, 21] and truncated to integers as the release does.
  The release indexes rows with each landmark's x, so its blocks are centred at (row, column)
  (9, 11), (21, 10), (10, 21), (20, 21): the left eye, left lip, right eye and right lip
  regions its variables are named after; the nose landmark is unused. Tiled as
  [[left eye, left lip], [right eye, right lip]].
- network (released settings: image 28, patch 7, dim 256, heads 3, three hierarchies, block
  repeats (2, 2, 10), MLP ratio 4, no dropout): 7 x 7 patches embedded into 4 x 4 tokens of 256
  channels; level 2 splits the map into 4 x 4 blocks, level 1 into 2 x 2, level 0 keeps it
  whole; each level runs pre-norm transformer layers (LayerNorm over channels, multi-head
  attention within each block, MLP) and then an aggregation (3x3 conv, channel LayerNorm, 3x3
  max-pool of stride 2) doubling the channels (256 -> 512 -> 1024); channel LayerNorm, global
  mean, linear head.

With these settings every block holds one token at every level (4 x 4 tokens in 4 x 4
blocks, 2 x 2 in 2 x 2, 1 x 1 whole), so each attention layer attends one token to itself:
its output is the value projection and its query/key weights receive no gradient. The model
has 139,582,982 parameters at 3 classes, 125.8 M of them in the ten 1024-channel layers that
see one token. This is what was released, and what we implement.

Written differently, computing the same (checked against a transcription of Model.py with
copied weights): 7 x 7 patches are embedded by a stride-7 convolution (the release rearranges
patches and applies a 1x1 convolution: the same linear map, the same fan-in), and the
transformer layers are linear layers on tokens where the release applies 1x1 convolutions to
maps (far faster on a CPU). The release feeds 8-bit PNG values (0..255); we scale min-max maps
by 255 to match. The release keeps, per test subject, the epoch with the best test accuracy;
mer-zoo evaluates the last epoch.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from registry import MODELS
from registry.errors import ConfigError
from zoo.models._flow_baselines import FLOW_STRAIN_28, PNG_RANGE, megc2019_reported, stack_flow

CITATION = (
    "Wang, Z., Zhang, K., Luo, W., Sankaranarayana, R. HTNet for micro-expression recognition. "
    "Neurocomputing 602, 2024 (arXiv 2307.14637); code: github.com/wangzhifengharrison/HTNet."
)
_MAIN = "official main_HTNet.py"
DEFAULTS = {
    "epochs": 800,
    "batch_size": 256,
    "lr": 5e-5,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "input_size": 28,
    "selection": "last",
    "augment": "none",
}
DEFAULT_SOURCES = {
    "epochs": f"{_MAIN}: epochs = 800",
    "batch_size": f"{_MAIN}: batch_size = 256",
    "lr": f"{_MAIN}: torch.optim.Adam(lr=0.00005)",
    "weight_decay": f"{_MAIN}: torch.optim.Adam without weight decay",
    "optimizer": "Adam without weight decay = AdamW with weight_decay 0 (identical update)",
    "input_size": f"{_MAIN}: HTNet(image_size=28), 28x28 u/v/strain images",
    "selection": f"mer-zoo: the last epoch ({_MAIN} keeps the epoch with the best accuracy on the "
    "test subject, which leaks test information)",
    "augment": f"{_MAIN}: no augmentation",
}
_BEST_ON_TEST = "per test subject, the epoch with the best test accuracy (main_HTNet.py)"
REPORTED = (
    *megc2019_reported(
        "Wang et al. 2024, comparison table (MEGC 2019 composite)",
        {
            None: (0.8603, 0.8475),
            "smic": (0.8049, 0.7905),
            "casme2": (0.9532, 0.9516),
            "samm": (0.8131, 0.8124),
        },
        selection="test-subject-best",
        caveat=_BEST_ON_TEST,
    ),
    *megc2019_reported(
        "confusion_matrix.py in github.com/wangzhifengharrison/HTNet: stored per-subject "
        "predictions of 442 clips, scored per part",
        {
            None: (0.8313, 0.8175),
            "smic": (0.7691, 0.7620),
            "casme2": (0.9367, 0.9242),
            "samm": (0.7870, 0.7590),
        },
        variant="released predictions",
        selection="test-subject-best",
        caveat=f"{_BEST_ON_TEST}; they do not reach the paper's figures",
    ),
)

# MTCNN's five landmarks (x, y: left eye, right eye, nose, left and right mouth corner) on a
# 28 px face: the release's fallback when MTCNN finds no face.
FALLBACK_LANDMARKS = (
    (9.528073, 11.062551),
    (21.396168, 10.919773),
    (15.380184, 17.380562),
    (10.255435, 22.121233),
    (20.583706, 22.25584),
)
BLOCK = 14
TILED = ((0, 1), (3, 4))  # landmark indices of the 2 x 2 tiling (rows of the new image)


def block_centres(landmarks=FALLBACK_LANDMARKS, low: int = 7, high: int = 21) -> list[tuple[int, int]]:
    """The release's block centres: landmarks clipped to [low, high], truncated to integers.
    The first coordinate (the landmark's x) is used as the row, as the release does."""
    return [tuple(int(min(max(value, low), high)) for value in point) for point in landmarks]


def tile_blocks(image: torch.Tensor, centres: list[tuple[int, int]]) -> torch.Tensor:
    """Cut a 14 x 14 block around each centre of ``TILED`` and tile them 2 x 2 (28 x 28)."""
    half = BLOCK // 2

    def cut(index: int) -> torch.Tensor:
        row, col = centres[index]
        return image[..., row - half : row + half, col - half : col + half]

    return torch.cat([torch.cat([cut(i) for i in row], dim=-1) for row in TILED], dim=-2)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each position of a (N, C, H, W) map."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rearrange(self.norm(rearrange(x, "n c h w -> n h w c")), "n h w c -> n c h w")


class Attention(nn.Module):
    """Multi-head self-attention among the tokens of a block. Head width is ``dim // heads``
    (85 at 256 / 3), so the inner width can be below ``dim``."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, inner = heads, (dim // heads) * heads
        self.qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (rearrange(part, "n t (h d) -> n h t d", h=self.heads) for part in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v)  # scale 1 / sqrt(head width), as released
        return self.out(rearrange(out, "n h t d -> n t (h d)"))


class TransformerLevel(nn.Module):
    """A learned position embedding, then ``depth`` pre-norm attention + MLP layers, on
    (blocks, tokens, channels)."""

    def __init__(self, dim: int, tokens: int, depth: int, heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(tokens))
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.Sequential(nn.LayerNorm(dim), Attention(dim, heads)),
                    nn.Sequential(
                        nn.LayerNorm(dim),
                        nn.Linear(dim, dim * mlp_ratio),
                        nn.GELU(),
                        nn.Linear(dim * mlp_ratio, dim),
                    ),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos.view(1, -1, 1)
        for attention, mlp in self.layers:
            x = x + attention(x)
            x = x + mlp(x)
        return x


def to_blocks(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N, C, H, W) -> (N * n * n, H * W / n^2, C): the tokens of each of n x n blocks."""
    return rearrange(x, "b c (bh h) (bw w) -> (b bh bw) (h w) c", bh=n, bw=n)


def from_blocks(x: torch.Tensor, n: int, side: int) -> torch.Tensor:
    """Inverse of :func:`to_blocks` for a ``side`` x ``side`` map."""
    return rearrange(x, "(b bh bw) (h w) c -> b c (bh h) (bw w)", bh=n, bw=n, h=side // n)


class HTNet(nn.Module):
    """Hierarchical transformer: local attention in 4x4, then 2x2 blocks, then the whole map."""

    inputs = FLOW_STRAIN_28

    def __init__(
        self,
        num_classes: int,
        dim: int = 256,
        heads: int = 3,
        depths: tuple[int, ...] = (2, 2, 10),
        image_size: int = 28,
        patch_size: int = 7,
    ):
        super().__init__()
        levels = len(depths)
        grid = image_size // patch_size
        if image_size % patch_size or grid % 2 ** (levels - 1):
            raise ConfigError(
                f"htnet: {image_size} px in {patch_size} px patches cannot be split {levels} times"
            )
        if dim < heads:
            raise ConfigError(f"htnet option dim={dim}: use at least as many channels as heads ({heads})")
        self.centres = block_centres()
        self.embed = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        tokens = (grid // 2 ** (levels - 1)) ** 2  # tokens per block, equal at every level
        self.blocks_per_side = [2**level for level in reversed(range(levels))]
        self.levels = nn.ModuleList()
        self.aggregate = nn.ModuleList()
        for i, depth in enumerate(depths):
            width = dim * 2**i
            self.levels.append(TransformerLevel(width, tokens, depth, heads * 2**i))
            last = i == levels - 1
            self.aggregate.append(
                nn.Identity()
                if last
                else nn.Sequential(
                    nn.Conv2d(width, 2 * width, 3, padding=1),
                    ChannelNorm(2 * width),
                    nn.MaxPool2d(3, stride=2, padding=1),
                )
            )
        width = dim * 2 ** (levels - 1)
        self.norm = ChannelNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, flow: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        image = tile_blocks(stack_flow(flow, strain, PNG_RANGE), self.centres)
        x = self.embed(image)
        for level, aggregate, n in zip(self.levels, self.aggregate, self.blocks_per_side):
            x = aggregate(from_blocks(level(to_blocks(x, n)), n, x.shape[-1]))
        return self.head(self.norm(x).mean((2, 3)))


@MODELS.register(
    "htnet",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
)
def htnet(num_classes: int, dim: int = 256, heads: int = 3) -> HTNet:
    """HTNet (Wang et al., 2024) as released: fixed facial blocks, 139.6 M parameters, 1-token attention."""
    return HTNet(num_classes, dim=dim, heads=heads)
