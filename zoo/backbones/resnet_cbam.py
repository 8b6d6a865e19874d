"""A ResNet-18 layout with CBAM attention in every block, ending at stride 16: MIACNet's first
trunk, kept as ``--opt backbone=resnet18_cbam`` (results recorded before MMNet's own trunk became
MIACNet's default name it ``mmnet_trunk``)."""

from __future__ import annotations

from timm.models.resnet import BasicBlock, ResNet

from registry import BACKBONES
from registry.errors import ConfigError

CITATION = (
    "He, K., Zhang, X., Ren, S., Sun, J. Deep Residual Learning for Image Recognition. CVPR 2016; "
    "Woo, S., Park, J., Lee, J.-Y., Kweon, I. S. CBAM: Convolutional Block Attention Module. ECCV 2018."
)


@BACKBONES.register("resnet18_cbam", citation=CITATION)
def resnet18_cbam(width: int = 64) -> ResNet:
    """ResNet-18 with CBAM in every block, dilated last stage (stride 16, 8*width channels).

    timm's ResNet with a deep 3x3 stem ending at ``width`` channels, so the whole trunk, stem
    included, scales with ``width``; its forward returns the feature map (no pooling, no head)."""
    if width < 1:
        raise ConfigError(f"backbone resnet18_cbam: width={width}; use a positive integer (64 = ResNet-18)")
    return ResNet(
        BasicBlock,
        [2, 2, 2, 2],
        channels=(width, 2 * width, 4 * width, 8 * width),
        stem_type="deep",
        stem_width=width // 2,
        output_stride=16,
        num_classes=0,
        global_pool="",
        block_args={"attn_layer": "cbam"},
    )
