"""What the optical-flow baselines share: 28 px inputs, the two-stream layout, MEGC 2019 figures.

STSTNet, OFF-ApexNet, Dual-Inception and HTNet were all published on the MEGC 2019 composite
with TV-L1 flow shrunk to 28 x 28 and each map min-max scaled, so they declare the same
:class:`InputSpec`. (Not a registered model: ``load_all`` skips ``_`` modules.)
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from benchmarks.records import InputSpec
from registry.reported import Reported

FLOW_28 = InputSpec(("flow",), size=28, flow="tvl1", scaling="minmax")
FLOW_STRAIN_28 = InputSpec(("flow", "strain"), size=28, flow="tvl1", scaling="minmax")

# STSTNet's and HTNet's official scripts feed the 8-bit PNG values of their min-max scaled
# maps (0..255, never divided by 255); prepared ``minmax`` maps are 0..1.
PNG_RANGE = 255.0


def stack_flow(flow: torch.Tensor, third: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The 3-channel flow image of these papers: u, v and a third map (optical strain or
    magnitude), times ``scale``. Channel order is immaterial to a network trained from scratch
    (the official scripts read the PNGs in OpenCV's BGR order)."""
    return torch.cat([flow, third], dim=1) * scale


class TwoStream(nn.Module):
    """Two CNNs of the same design but separate weights, one on the horizontal flow u and
    one on the vertical flow v; their flattened maps, concatenated, go through ``head``."""

    inputs = FLOW_28

    def __init__(self, make_stream: Callable[[], nn.Module], head: nn.Module):
        super().__init__()
        self.u, self.v = make_stream(), make_stream()
        self.head = head

    def forward(self, flow: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.u(flow[:, :1]).flatten(1), self.v(flow[:, 1:]).flatten(1)], dim=1)
        return self.head(features)


def megc2019_reported(source: str, figures: dict, **fields) -> tuple[Reported, ...]:
    """Published LOSO figures on the MEGC 2019 composite, one row per part: ``figures`` maps a
    part (``None``: the whole composite, or ``smic``, ``casme2``, ``samm``) to (UF1, UAR) or
    (UF1, UAR, accuracy); ``fields`` (variant, selection, uar_is, caveat) apply to every row."""
    return tuple(
        Reported(
            "megc2019",
            "megc2019-3",
            "loso",
            source=source,
            uf1=values[0],
            uar=values[1],
            accuracy=values[2] if len(values) > 2 else None,
            part=part,
            **fields,
        )
        for part, values in figures.items()
    )
