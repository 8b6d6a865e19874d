"""Faster forms of standard layers (``zoo.models.layers`` and STSTNet's ``PooledLinear``) are the
same functions: dropout's masks keep each element independently with probability ``1 - p``
and scale it by ``1 / (1 - p)``; the pooled classifier equals pooling then the linear layer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from zoo.models.layers import Dropout, dropout_mask
from zoo.models.ststnet import PooledLinear


@pytest.mark.parametrize("p", [0.5, 0.2, 0.9])
def test_dropout_mask_keeps_each_element_independently_with_probability_keep(p):
    keep, n = 1 - p, 1_000_000
    mask = dropout_mask(torch.empty(n), p, torch.Generator().manual_seed(3))
    values = mask.unique()
    assert len(values) == 2 and values[0] == 0 and values[1] == pytest.approx(1 / keep)
    kept = (mask > 0).double()
    assert abs(kept.mean().item() - keep) < 5 * math.sqrt(keep * (1 - keep) / n)
    # neighbours are independent: the correlation of adjacent draws is within noise of zero
    centred = kept - kept.mean()
    correlation = (centred[1:] * centred[:-1]).mean() / centred.var()
    assert abs(correlation.item()) < 5 / math.sqrt(n)


def test_dropout_mask_follows_layout_precision_and_generator():
    like = torch.empty(4, 16, 10, 10).contiguous(memory_format=torch.channels_last)
    mask = dropout_mask(like, 0.5, torch.Generator().manual_seed(1))
    assert mask.is_contiguous(memory_format=torch.channels_last) and not mask.is_contiguous()
    assert torch.equal(mask, dropout_mask(like, 0.5, torch.Generator().manual_seed(1)))
    assert not torch.equal(mask, dropout_mask(like, 0.5, torch.Generator().manual_seed(2)))
    half = dropout_mask(like.bfloat16(), 0.5, torch.Generator().manual_seed(1))
    assert half.dtype == torch.bfloat16 and torch.equal(half.float(), mask)  # drawn in float32 either way
    assert torch.equal(dropout_mask(like, 1.0), torch.zeros_like(like))


def test_dropout_is_nn_dropout_with_other_draws():
    x = torch.rand(64, 100) + 0.5
    layer = Dropout(0.5)
    assert isinstance(layer, nn.Dropout) and layer.state_dict() == {}
    assert layer.eval()(x) is x
    layer.train()
    torch.manual_seed(0)
    x.requires_grad_(True)
    out = layer(x)
    ratio = out.detach() / x.detach()
    assert set(ratio.unique().tolist()) == {0.0, 2.0}
    out.sum().backward()
    assert torch.equal(x.grad, ratio)  # gradient flows through the kept elements, scaled
    torch.manual_seed(0)
    assert torch.equal(layer(x.detach()), out.detach())  # the global generator, as nn.Dropout
    assert torch.equal(Dropout(1.0)(x.detach()), torch.zeros_like(x))
    assert Dropout(0.0)(x) is x
    inplace = x.detach().clone()
    torch.manual_seed(0)
    assert Dropout(0.5, inplace=True)(inplace) is inplace and torch.equal(inplace, out.detach())


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_pooled_linear_is_average_pooling_then_the_linear_layer(layout):
    torch.manual_seed(0)
    pooled = PooledLinear(16, 5, 2, 3)
    reference = nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 3))
    reference[2].load_state_dict(pooled.state_dict())
    assert list(pooled.state_dict()) == ["weight", "bias"]
    maps = torch.randn(8, 16, 10, 10).contiguous(memory_format=layout)
    torch.testing.assert_close(pooled(maps), reference(maps), rtol=1e-5, atol=1e-5)
    grad = torch.randn(8, 3)
    pooled(maps).backward(grad)
    reference(maps).backward(grad)
    torch.testing.assert_close(pooled.weight.grad, reference[2].weight.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pooled.bias.grad, reference[2].bias.grad)
