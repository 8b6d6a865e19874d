"""STSTNet: a shallow triple-stream CNN on optical flow and optical strain (MEGC 2019).

As the authors' PyTorch release (``christy1206/STSTNet`` main.py): the u, v and optical-strain
maps of the onset->apex TV-L1 flow, 28 x 28, go through three parallel 3x3 convolutions of
3, 5 and 8 filters (padding 2, so 30 x 30 maps), each followed by ReLU, batch norm, a 3x3
max-pool of stride 3 (10 x 10) and dropout 0.5; the 16 maps are concatenated, average-pooled
to 5 x 5 and classified by one linear layer: 1,683 parameters at 3 classes.

Differences from the release, none of which changes the architecture: the official script
reads 8-bit PNGs (0..255) in BGR order, we scale min-max maps by 255 and stack u, v, strain;
its data loader does not shuffle (batches ordered by class), the mer-zoo trainer does
(``--order by-class`` trains in the release's order).

The registered model computes the three streams as one (:class:`STSTNet`), 2-3x faster on
CPU: every layer after the convolutions acts on each channel alone, so three convolutions of
3, 5 and 8 filters followed by per-channel ReLU, batch norm, max-pool and dropout are one
convolution of 16 filters followed by the same layers over 16 channels. Same parameters, same
initialisation (each filter drawn as its stream's, in the release's order), and the state
dict keeps the release's per-stream layout, so the two forms load each other's weights
(:class:`OfficialSTSTNet` is the release's form, kept to prove it: ``tests/test_flow_baselines.py``).
"""

from __future__ import annotations

from itertools import accumulate

import torch
import torch.nn as nn

from registry import MODELS
from zoo.models._flow_baselines import FLOW_STRAIN_28, PNG_RANGE, megc2019_reported, stack_flow

CITATION = (
    "Liong, S.-T., Gan, Y.S., See, J., Khor, H.-Q., Huang, Y.-C. Shallow Triple Stream "
    "Three-dimensional CNN (STSTNet) for Micro-expression Recognition. IEEE FG 2019; code: "
    "github.com/christy1206/STSTNet."
)
DEFAULTS = {
    "epochs": 800,
    "batch_size": 256,
    "lr": 5e-5,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "input_size": 28,
    "selection": "last",
    "augment": "none",
    "order": "shuffled",
}
DEFAULT_SOURCES = {
    "epochs": "official main.py: epochs = 800",
    "batch_size": "official main.py: batch_size = 256",
    "lr": "official main.py: torch.optim.Adam(lr=0.00005)",
    "weight_decay": "official main.py: torch.optim.Adam without weight decay",
    "optimizer": "official main.py: torch.optim.Adam without weight decay = AdamW with weight_decay 0 "
    "(identical update)",
    "input_size": "official main.py: 28x28x3 u/v/strain images (fc in_features = 5*5*16)",
    "selection": "official main.py: predictions of the last of the 800 epochs",
    "augment": "official main.py: no augmentation",
    "order": "mer-zoo: a fresh shuffle each epoch; official main.py's DataLoader does not shuffle, so its batches "
    "follow the class folders (--order by-class; docs/baselines.md)",
}
STREAM_WIDTHS = (3, 5, 8)

_PAPER_SELECTION = (
    "the MATLAB main.m trains a fixed number of epochs and classifies with the final network, but "
    "its epoch count differs between versions and the paper does not say which produced the table"
)
REPORTED = (
    *megc2019_reported(
        "Liong et al. FG 2019, Table III",
        {
            None: (0.7353, 0.7605),
            "smic": (0.6801, 0.7013),
            "casme2": (0.8382, 0.8686),
            "samm": (0.6588, 0.6810),
        },
        uar_is="macro-precision",
        caveat="the released per-clip log of this run (STSTNet_logfile.txt) gives the same UF1 and "
        f"these 'UAR' values as macro-averaged precision; {_PAPER_SELECTION}",
    ),
    *megc2019_reported(
        "STSTNet_logfile.txt (github.com/christy1206/STSTNet): 442 per-clip predictions, scored per part",
        {
            None: (0.7353, 0.7186, 0.7692),
            "smic": (0.6801, 0.6703, 0.6829),
            "casme2": (0.8382, 0.8190, 0.8621),
            "samm": (0.6588, 0.6415, 0.7744),
        },
        variant="released log",
        caveat=f"the predictions behind the paper's table, with the true UAR; {_PAPER_SELECTION}",
    ),
    *megc2019_reported(
        "STSTNet_python_logfile.txt (github.com/christy1206/STSTNet, official PyTorch main.py): "
        "per-subject predictions, scored per part",
        {
            None: (0.7209, 0.7250, 0.7398),
            "smic": (0.6871, 0.6876, 0.6829),
            "casme2": (0.8304, 0.8304, 0.8414),
            "samm": (0.5993, 0.6145, 0.6992),
        },
        variant="official PyTorch re-run",
        selection="last",
    ),
)


def _stream(width: int, drop_rate: float) -> nn.Sequential:
    """One stream of the release: conv, ReLU, batch norm, max-pool, dropout."""
    return nn.Sequential(
        nn.Conv2d(3, width, kernel_size=3, padding=2),
        nn.ReLU(),
        nn.BatchNorm2d(width),
        nn.MaxPool2d(kernel_size=3, stride=3, padding=1),
        nn.Dropout(drop_rate),
    )


class OfficialSTSTNet(nn.Module):
    """The release's form: three parallel shallow conv streams (3, 5, 8 filters) on the
    u/v/strain image. The peer loop of ``experiments/perf/small_models.py`` trains it."""

    inputs = FLOW_STRAIN_28

    def __init__(self, num_classes: int, drop_rate: float = 0.5):
        super().__init__()
        self.streams = nn.ModuleList(_stream(width, drop_rate) for width in STREAM_WIDTHS)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(sum(STREAM_WIDTHS) * 5 * 5, num_classes)

    def forward(self, flow: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        image = stack_flow(flow, strain, PNG_RANGE)
        maps = torch.cat([stream(image) for stream in self.streams], dim=1)
        return self.fc(self.pool(maps).flatten(1))


# the release's per-stream keys (``streams.<i>.<layer>.<name>``) of the one-stream tensors, and
# the number of dimensions each has in one model (channels first; a stacked model of several
# folds, ``zoo.engine.stacked``, puts a fold dimension before them)
_STREAM_LAYERS = {"conv": (0, {"weight": 4, "bias": 1}),
                  "bn": (2, {"weight": 1, "bias": 1, "running_mean": 1, "running_var": 1,
                             "num_batches_tracked": 0})}


class STSTNet(nn.Module):
    """STSTNet with its three streams computed as one 16-filter stream, channels-last.

    Channels-last because batch norm and max-pool over 16 channels run several times faster
    on CPU in that layout; the ReLU is in place because the convolution's backward pass does
    not read its output. ``state_dict`` is the release's (``streams.<i>...``), and
    ``load_state_dict`` takes it.
    """

    inputs = FLOW_STRAIN_28

    def __init__(self, num_classes: int, drop_rate: float = 0.5):
        super().__init__()
        streams = [_stream(width, drop_rate) for width in STREAM_WIDTHS]  # the release's draws, in order
        width = sum(STREAM_WIDTHS)
        self.conv = nn.utils.skip_init(  # no draw of its own
            nn.Conv2d, 3, width, kernel_size=3, padding=2, device=streams[0][0].weight.device
        )
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([s[0].weight for s in streams]))
            self.conv.bias.copy_(torch.cat([s[0].bias for s in streams]))
        self.bn = nn.BatchNorm2d(width)
        self.max_pool = nn.MaxPool2d(kernel_size=3, stride=3, padding=1)
        self.dropout = nn.Dropout(drop_rate)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(width * 5 * 5, num_classes)
        self._register_state_dict_hook(_to_streams)
        self._register_load_state_dict_pre_hook(_from_streams)

    def forward(self, flow: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        image = stack_flow(flow, strain, PNG_RANGE).contiguous(memory_format=torch.channels_last)
        maps = self.dropout(self.max_pool(self.bn(torch.relu_(self.conv(image)))))
        return self.fc(self.pool(maps).flatten(1))


def _stream_bounds() -> list[tuple[int, int]]:
    """Each stream's channels of the one stream: (0, 3), (3, 8), (8, 16)."""
    edges = [0, *accumulate(STREAM_WIDTHS)]
    return list(zip(edges, edges[1:]))


def _to_streams(module: nn.Module, state: dict, prefix: str, local_metadata: dict) -> None:
    """State-dict hook: the one-stream tensors written as the release's per-stream keys, in
    the release's order (streams, then the classifier)."""
    joined = {(layer, name): state.pop(f"{prefix}{layer}.{name}")
              for layer, (_, names) in _STREAM_LAYERS.items() for name in names}
    rest = [key for key in state if key.startswith(prefix)]
    for stream, (low, high) in enumerate(_stream_bounds()):
        for (layer, name), value in joined.items():
            index, dims = _STREAM_LAYERS[layer]
            if dims[name]:  # channels: this stream's; a count (num_batches_tracked): shared
                value = value.narrow(value.dim() - dims[name], low, high - low)
            state[f"{prefix}streams.{stream}.{index}.{name}"] = value
    for key in rest:
        state.move_to_end(key)


def _from_streams(state: dict, prefix: str, *args) -> None:
    """Load pre-hook: the release's per-stream tensors joined into the one-stream ones (a state
    dict without them, in the one-stream layout already, is left alone)."""
    for layer, (index, dims) in _STREAM_LAYERS.items():
        for name, ndim in dims.items():
            keys = [f"{prefix}streams.{stream}.{index}.{name}" for stream in range(len(STREAM_WIDTHS))]
            if not all(key in state for key in keys):
                continue
            parts = [state.pop(key) for key in keys]
            state[f"{prefix}{layer}.{name}"] = torch.cat(parts, dim=parts[0].dim() - ndim) if ndim else parts[0]


@MODELS.register(
    "ststnet",
    citation=CITATION,
    defaults=DEFAULTS,
    default_sources=DEFAULT_SOURCES,
    reported=REPORTED,
)
def ststnet(num_classes: int, drop_rate: float = 0.5) -> STSTNet:
    """STSTNet (Liong et al., FG 2019) as its official PyTorch code: 28 px u/v/strain, 1,683 parameters."""
    return STSTNet(num_classes, drop_rate=drop_rate)
