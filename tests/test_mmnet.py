"""MMNet as the official code builds it: size, shapes, CA attention, position calibration, the
3-class variant, FLOPs, and the trunk MIACNet shares."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from registry import DATASETS, MODELS
from zoo.backbones import create_backbone
from zoo.backbones.mmnet import MMNetTrunk
from zoo.models import count_parameters, create_model, forward_flops


def pair(size: int, batch: int = 2) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"onset": torch.randn(batch, 3, size, size), "apex": torch.randn(batch, 3, size, size)}


@pytest.fixture(scope="module")
def mmnet():
    return create_model("mmnet", 5).eval()


def test_parameters_are_those_the_official_forward_uses(mmnet):
    # 9,970,947 when the official MMNet class is instantiated; 532,106 of them are never used
    # by its forward (see docs/mmnet.md) and are not built here.
    assert count_parameters(mmnet) == MODELS.get("mmnet").meta["parameters_5_classes"] == 9_438_841
    assert count_parameters(mmnet.trunk) == 2_528_884  # conv_act 5,220 + conv 207,616 + CA blocks
    assert count_parameters(mmnet.position) == 6_408_192
    assert count_parameters(mmnet.head) == 512 * 196 * 5 + 5
    variant = create_model("mmnet-3", 3)
    assert count_parameters(variant) == MODELS.get("mmnet-3").meta["parameters_3_classes"] == 9_241_719


@pytest.mark.parametrize("size, grid", [(112, 7), (224, 14)])
def test_shapes_at_112_and_224(mmnet, size, grid):
    x = pair(size)
    with torch.no_grad():
        raw = mmnet.trunk(x["apex"] - x["onset"])
        maps = mmnet.features(**x)
        logits = mmnet(**x)
    assert raw.shape == (2, 512, grid, grid)
    assert maps["action"].shape == maps["position"].shape == (2, 512, 14, 14)
    # the main branch's map is brought to the official 14x14: unchanged at 224, cells repeated at 112
    repeat = 14 // grid
    assert torch.equal(maps["action"], raw.repeat_interleave(repeat, -1).repeat_interleave(repeat, -2))
    assert logits.shape == (2, 5)


def test_ca_attention_is_in_unit_range_accumulates_and_multiplies_the_features():
    trunk = create_backbone("mmnet_ca", width=8).eval()
    image = pair(112)["apex"]
    with torch.no_grad():
        final, maps = trunk.forward_with_attention(image)
        x, prior = trunk.conv(trunk.conv_act(image)), None
        for block, attention, side in zip(trunk.blocks, maps, (56, 28, 14, 7)):
            features = block.residual(x)
            out, own = block(x, prior)
            assert own.shape == (2, 1, side, side) and torch.equal(own, attention)
            assert 0 <= attention.min() and attention.max() <= 1 and attention.std() > 0
            assert torch.allclose(out, features * attention)  # the map multiplies every channel
            if prior is not None:  # continuous: never above the previous block's pooled map
                assert torch.allclose(attention, block.attention(features, None) * prior)
                assert (attention <= prior).all()
            x, prior = out, trunk.pool(attention)
    assert torch.equal(final, x) and final.shape == (2, 64, 7, 7)


def test_position_calibration_is_added_before_the_linear_head(mmnet):
    x = pair(112)
    with torch.no_grad():
        maps = mmnet.features(**x)
        logits = mmnet(**x)
        saved = {k: v.clone() for k, v in mmnet.position.norm.state_dict().items()}
        mmnet.position.norm.weight.zero_()  # the ViT's output is its final LayerNorm's
        mmnet.position.norm.bias.zero_()
        try:
            assert mmnet.position(x["onset"]).abs().max() == 0
            without = mmnet(**x)
        finally:
            mmnet.position.norm.load_state_dict(saved)
    assert torch.allclose(without, mmnet.head(maps["action"].flatten(1)), atol=1e-5)
    # linear head: the logits move by exactly W @ position
    shift = maps["position"].flatten(1) @ mmnet.head.weight.T
    assert torch.allclose(logits - without, shift, atol=1e-4) and shift.abs().max() > 0.01


def test_the_3_class_variant_differs_only_where_casme2_3_py_does():
    variant = create_model("mmnet-3", 3)
    blocks = variant.position.blocks
    assert len(blocks) == 3 and blocks[0].mlp.fc1.out_features == 1024  # depth 3, MLP ratio 2
    assert isinstance(blocks[0].drop_path1, torch.nn.Identity)
    assert [b.drop_path1.drop_prob for b in blocks[1:]] == pytest.approx([0.15, 0.3])
    assert variant.trunk.conv_act[0].groups == 1  # CASME2_3.py's groups=2 cannot be built (3 inputs)
    five, three = dict(MODELS.get("mmnet").defaults), dict(MODELS.get("mmnet-3").defaults)
    assert {k: v for k, v in three.items() if five[k] != v} == {
        "epochs": 99,
        "batch_size": 24,
        "weight_decay": 0.7,
    }
    assert len(create_model("mmnet", 3).position.blocks) == 2


def test_reported_rows_name_their_benchmark_and_selection():
    [casme2_5, mmew] = MODELS.get("mmnet").meta["reported"]
    [casme2_3] = MODELS.get("mmnet-3").meta["reported"]
    assert (casme2_5.accuracy, casme2_5.uf1) == (0.8835, 0.8676)
    assert casme2_5.class_set in DATASETS.get("casme2").meta["class_sets"].values()
    assert mmew.uf1 is None and "0.8635" in mmew.caveat  # no MMEW script: F1 not checkable
    assert casme2_3.class_set != "casme2-3" and (casme2_3.accuracy, casme2_3.uf1) == (0.9551, 0.9494)
    assert all(r.leaks_test_subject for r in (casme2_5, mmew, casme2_3))


def test_flops_count_the_attention_in_every_torch_version(mmnet):
    assert forward_flops(mmnet, 224) == 14_423_358_544
    n, d = 196, 512  # tokens, width: per block qkv, q k^T and attn v, projection, MLP (ratio 4)
    block = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * 4 * d
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        mmnet.position(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() == 2 * n * 3 * d + 2 * block


def test_miacnet_is_built_on_the_same_trunk(mmnet):
    miacnet = create_model("miacnet", 5)
    trunk = miacnet.action.trunk.net
    assert type(trunk) is type(mmnet.trunk) is MMNetTrunk
    shapes = {k: v.shape for k, v in trunk.state_dict().items()}
    assert shapes == {k: v.shape for k, v in mmnet.trunk.state_dict().items()}
    small = create_model("miacnet", 5, width=16).action.trunk.net  # a quarter of the channels
    assert small.conv_act[0].out_channels == 45 and small.num_features == 128
    assert type(create_model("miacnet", 5, backbone="resnet18_cbam").action.trunk.net) is not MMNetTrunk
