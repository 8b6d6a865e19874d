"""Paired augmentation: one random transform per sample, applied to all of its inputs.

Onset and apex (and their flow) must move together, otherwise the augmentation itself
creates motion. Flow is a vector field, so a mirror negates its horizontal component and
a rotation rotates the vectors as well as the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from registry.errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    rotate_deg: float = 3.0
    crop_pad: float = 15 / 224  # random-crop padding as a fraction of the input size

    @property
    def active(self) -> bool:
        return self.flip or self.rotate_deg > 0 or self.crop_pad > 0


# The named settings of the ``augment`` hyper-parameter (model defaults, dataset budget,
# ``zoo bench --augment``). "none" is for models published without augmentation (STSTNet,
# OFF-ApexNet) and for inputs it would corrupt (min-max-scaled released flow).
AUGMENTATIONS = {
    "flip-rotate-crop": AugmentConfig(),
    "none": AugmentConfig(flip=False, rotate_deg=0.0, crop_pad=0.0),
}


def augmentation(name: str) -> AugmentConfig:
    try:
        return AUGMENTATIONS[name]
    except KeyError:
        raise ConfigError(f"--augment must be one of {', '.join(AUGMENTATIONS)}, not '{name}'") from None


VECTOR_KEYS = ("flow",)


def augment(
    inputs: dict[str, torch.Tensor], cfg: AugmentConfig, generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Randomly mirror, rotate and shift every sample of a batch; float tensors in and out."""
    if not cfg.active:
        return inputs
    first = next(iter(inputs.values()))
    n, device = first.shape[0], first.device
    mirror = (torch.rand(n, generator=generator) < 0.5) if cfg.flip else torch.zeros(n, dtype=torch.bool)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(cfg.rotate_deg)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 2 * cfg.crop_pad
    sign = 1 - 2 * mirror.float()
    cos, sin = torch.cos(angle), torch.sin(angle)
    # output -> input sampling grid: mirror x, rotate, then translate (in [-1, 1] units)
    theta = torch.stack(
        [
            torch.stack([cos * sign, -sin, shift[:, 0]], dim=1),
            torch.stack([sin * sign, cos, shift[:, 1]], dim=1),
        ],
        dim=1,
    ).to(device)
    out = {}
    for key, value in inputs.items():
        grid = F.affine_grid(theta.to(value.dtype), list(value.shape), align_corners=False)
        moved = F.grid_sample(value, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if key in VECTOR_KEYS:
            moved = rotate_vectors(moved, mirror.to(device), angle.to(device))
        out[key] = moved
    return out


def rotate_vectors(flow: torch.Tensor, mirror: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """The vector part of the image transform.

    Sampling the input at ``A x`` with ``A = R(angle) M`` moves content by ``A^-1 = M R(-angle)``,
    so each vector is turned by ``-angle`` and then mirrored (u negated).
    """
    u, v = flow[:, 0], flow[:, 1]
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    turned_u, turned_v = cos * u + sin * v, -sin * u + cos * v
    return torch.stack([torch.where(mirror[:, None, None], -turned_u, turned_u), turned_v], dim=1)
