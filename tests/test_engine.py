import math

import pytest
import torch
import torch.nn as nn

from benchmarks.records import InputSpec
from registry.errors import ConfigError
from zoo.engine.augment import AugmentConfig, augment
from zoo.engine.trainer import (
    FoldData,
    InputNormalizer,
    TrainConfig,
    class_weights,
    epoch_order,
    fit_predict,
    split_validation,
)


def test_mirror_negates_horizontal_flow_and_keeps_pairs_aligned():
    g = torch.Generator().manual_seed(0)
    frame = torch.rand(8, 3, 16, 16)
    flow = torch.zeros(8, 2, 16, 16)
    flow[:, 0], flow[:, 1] = 1.0, 0.5
    out = augment(
        {"onset": frame, "apex": frame.clone(), "flow": flow},
        AugmentConfig(flip=True, rotate_deg=0, crop_pad=0),
        g,
    )
    assert torch.equal(out["onset"], out["apex"])  # the same transform for both frames
    centre_u = out["flow"][:, 0, 8, 8]
    assert set(centre_u.tolist()) == {1.0, -1.0}  # some samples mirrored, some not
    assert torch.allclose(out["flow"][:, 1, 8, 8], torch.full((8,), 0.5))


def test_rotation_turns_flow_vectors_with_the_image():
    g = torch.Generator().manual_seed(1)
    flow = torch.zeros(4, 2, 32, 32)
    flow[:, 0] = 1.0
    out = augment({"flow": flow}, AugmentConfig(flip=False, rotate_deg=20, crop_pad=0), g)
    u, v = out["flow"][:, 0, 16, 16], out["flow"][:, 1, 16, 16]
    assert torch.allclose(u**2 + v**2, torch.ones(4), atol=1e-5)  # length kept
    angles = torch.atan2(v, u).abs()
    assert angles.max() <= math.radians(20) + 1e-5 and angles.max() > math.radians(1)


def test_train_config_rejects_bad_values():
    for kwargs, message in [
        ({"epochs": 0}, "--epochs must be a positive integer"),
        ({"batch_size": -1}, "--batch-size must be a positive integer"),
        ({"lr": 0.0}, "--lr must be positive"),
        ({"selection": "best"}, "--selection must be one of last, val"),
        ({"order": "random"}, "--order must be one of shuffled, by-class, not random"),
    ]:
        with pytest.raises(ConfigError, match=message):
            TrainConfig(**{"epochs": 1, "batch_size": 2, "lr": 1e-3, **kwargs})


def test_epoch_order_by_class_is_fixed_and_draws_nothing():
    labels = torch.tensor([2, 0, 1, 0, 2, 1])
    generator = torch.Generator().manual_seed(3)
    state = generator.get_state()
    for _ in range(2):  # the same batches every epoch, as a loader without shuffling
        assert epoch_order(labels, "by-class", generator).tolist() == [1, 3, 2, 5, 0, 4]
    assert torch.equal(generator.get_state(), state)
    first, second = (epoch_order(labels, "shuffled", generator) for _ in range(2))
    assert sorted(first.tolist()) == list(range(6)) and not torch.equal(first, second)


def test_class_weights_are_inverse_frequency_over_present_classes():
    weights = class_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert weights.tolist() == pytest.approx([4 / 6, 4 / 2, 0.0])


def test_validation_split_holds_out_whole_subjects():
    data = FoldData(
        {"flow": torch.zeros(10, 2, 4, 4)},
        torch.zeros(10, dtype=torch.long),
        tuple(f"s{i // 2}" for i in range(10)),
    )
    train, val = split_validation(data, 0.4, seed=0)
    assert len(val) == 4 and not {data.subjects[i] for i in train} & {data.subjects[i] for i in val}


def test_flow_normalizer_uses_training_statistics_only():
    train = FoldData({"flow": torch.full((4, 2, 2, 2), 2.0)}, torch.zeros(4, dtype=torch.long), ("a",) * 4)
    normalize = InputNormalizer(train)
    out = normalize({"flow": torch.full((1, 2, 2, 2), 5.0)}, torch.device("cpu"))
    assert normalize.scales == {"flow": pytest.approx(2.0)} and out["flow"][0, 0, 0, 0] == 2.5


class Tiny(nn.Module):
    inputs = InputSpec(("flow",))

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(2, 2)

    def forward(self, flow):
        return self.head(flow.mean(dim=(2, 3)))


def toy(n, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    flow = torch.randn(n, 2, 4, 4, generator=g) * 0.3
    flow[:, 0] += (labels * 2 - 1)[:, None, None].float()  # class = sign of horizontal motion
    return FoldData({"flow": flow}, labels, tuple(f"s{i % 6}" for i in range(n)))


@pytest.mark.parametrize("selection", ["last", "val"])
def test_fit_predict_learns_a_separable_toy_task(selection):
    cfg = TrainConfig(
        epochs=15,
        batch_size=16,
        lr=0.05,
        selection=selection,
        augment=AugmentConfig(flip=False, rotate_deg=0, crop_pad=0),
        device="cpu",
    )
    test = toy(40, 2)
    outcome = fit_predict(Tiny, toy(120, 1), test, cfg, num_classes=2)
    accuracy = (torch.tensor(outcome.predictions) == test.labels).float().mean()
    assert accuracy > 0.9 and len(outcome.losses) == 15 and outcome.losses[-1] < outcome.losses[0]
    assert 1 <= outcome.selected_epoch <= 15
    assert all(abs(sum(p) - 1) < 1e-3 for p in outcome.probabilities)
