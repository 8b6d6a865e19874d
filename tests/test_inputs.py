"""A model's InputSpec drives preprocessing: fixed size, flow method, scaling, keys; the
``augment`` hyper-parameter; run ids of existing configurations stay as they were."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from benchmarks.records import InputSpec
import zoo.engine.trainer as trainer
from leaderboard.store import LATER_DEFAULTS
from zoo.bench.plan import BenchSpec, plan_benchmark, run_id_of
from registry import MODELS, Entry
from registry.errors import ConfigError
from zoo.engine.augment import AUGMENTATIONS
from zoo.engine.trainer import IMAGENET_MEAN, IMAGENET_STD, FoldData, InputNormalizer

PUBLISHED = Path(__file__).parents[1] / "leaderboard" / "results"


class FixedSize(nn.Module):
    """STSTNet-like: flow and strain at a fixed side, min-max scaled, published on TV-L1."""

    def __init__(self, num_classes: int, size: int):
        super().__init__()
        self.inputs = InputSpec(("flow", "strain"), size=size, flow="tvl1", scaling="minmax")
        self.head = nn.Linear(3, num_classes)

    def forward(self, flow, strain):
        return self.head(torch.cat([flow, strain], dim=1).mean(dim=(2, 3)))


def fixed_size(num_classes: int, size: int = 28) -> FixedSize:
    """A test model with a fixed input size."""
    return FixedSize(num_classes, size)


@pytest.fixture
def fixed_model(monkeypatch):
    """``test-fixed`` registered for one test only."""
    MODELS.names()  # load every plugin first, so nothing re-registers over the test entry
    entry = Entry("test-fixed", "model", fixed_size, summary="test model",
                  defaults={"input_size": 64, "augment": "none", "epochs": 1})
    monkeypatch.setitem(MODELS._entries, entry.name, entry)
    return entry.name


def plan(tmp_path, **kw):
    return plan_benchmark(BenchSpec(**{"model": "flow_resnet18", "device": "cpu", "out": tmp_path, **kw}))


def test_fixed_size_wins_over_budget_and_defaults_and_selects_flow(tmp_path, fixed_model):
    p = plan(tmp_path, model=fixed_model)  # synth's budget says 112 px, the model's defaults 64
    assert p.hyperparameters["input_size"] == 28 and p.preprocess.size == 28
    assert p.sources["input_size"] == "model test-fixed inputs (fixed 28 px)"
    assert p.preprocess.flow == "tvl1"
    assert p.inputs["model"] == {"keys": ["flow", "strain"], "size": 28, "flow": "tvl1", "scaling": "minmax"}
    assert p.inputs["dataset"]["source"] == "frames" and p.inputs["dataset"]["size"] is None
    assert p.hyperparameters["augment"] == "none" and p.train.augment == AUGMENTATIONS["none"]
    assert p.sources["augment"] == "model test-fixed defaults"
    assert plan(tmp_path, model=fixed_model, overrides={"input_size": 28}).preprocess.size == 28


def test_a_budget_lowers_epochs_and_input_size_but_never_raises_them(tmp_path, fixed_model):
    rcn = plan(tmp_path, model="rcn")  # published at 60 px and 100 epochs; synth's limits 112 px, 15
    assert (rcn.hyperparameters["input_size"], rcn.sources["input_size"]) == (60, "model rcn defaults")
    assert (rcn.hyperparameters["epochs"], rcn.sources["epochs"]) == (15, "dataset synth budget")
    mmnet = plan(tmp_path, model="mmnet")  # published at 224 px
    assert (mmnet.hyperparameters["input_size"], mmnet.sources["input_size"]) == (112, "dataset synth budget")
    fixed = plan(tmp_path, model=fixed_model)  # published at 1 epoch
    assert (fixed.hyperparameters["epochs"], fixed.sources["epochs"]) == (1, "model test-fixed defaults")
    given = plan(tmp_path, model="rcn", overrides={"input_size": 112, "epochs": 30})
    assert (given.hyperparameters["input_size"], given.hyperparameters["epochs"]) == (112, 30)


def test_input_size_contradicting_a_fixed_size_is_an_error(tmp_path, fixed_model):
    with pytest.raises(ConfigError, match=r"--input-size 112 contradicts model test-fixed inputs "
                                          r"\(fixed 28 px\); drop --input-size or pass --input-size 28"):
        plan(tmp_path, model=fixed_model, overrides={"input_size": 112})


def test_frame_models_keep_the_default_flow_and_augmentation(tmp_path):
    p = plan(tmp_path)
    assert (p.preprocess.flow, p.preprocess.size, p.sources["input_size"]) == (
        "farneback", 112, "dataset synth budget")
    assert (p.hyperparameters["augment"], p.sources["augment"]) == ("flip-rotate-crop", "mer-zoo fallback")
    assert p.train.augment == AUGMENTATIONS["flip-rotate-crop"] and p.train.augment.flip
    given = plan(tmp_path, overrides={"augment": "none"})
    assert given.sources["augment"] == "command line" and not given.train.augment.active
    with pytest.raises(ConfigError, match="--augment must be one of flip-rotate-crop, none, not 'sideways'"):
        plan(tmp_path, overrides={"augment": "sideways"})


@pytest.mark.parametrize("path", sorted(PUBLISHED.glob("*_resnet18__synth__*.json")), ids=lambda p: p.stem)
def test_run_ids_of_published_runs_are_unchanged(tmp_path, path, monkeypatch):
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: True)  # to plan a bf16 run anywhere
    """Later hyper-parameters at their defaults (augment, precision) and the recorded inputs leave
    run ids as they were; set otherwise, they make another run."""
    result = json.loads(path.read_text())
    p = plan(tmp_path, model=result["model"]["name"], seed=result["seed"])
    earlier = {k: v for k, v in p.hyperparameters.items() if k not in LATER_DEFAULTS}
    assert earlier == result["hyperparameters"]
    assert (p.hyperparameters["precision"], p.train.precision) == ("fp32", "fp32")
    assert run_id_of(p, result["dataset"]["fingerprint"]) == result["run_id"]
    for later in ({"augment": "none"}, {"precision": "bf16"}):
        other = plan(tmp_path, model=result["model"]["name"], seed=result["seed"], overrides=later)
        assert run_id_of(other, result["dataset"]["fingerprint"]) != result["run_id"]


def test_minmax_scales_each_channel_of_each_clip_after_augmentation():
    g = torch.Generator().manual_seed(0)
    train = FoldData({"flow": torch.randn(3, 2, 5, 5, generator=g) * 4 + 1,
                      "strain": torch.rand(3, 1, 5, 5, generator=g) * 9,
                      "onset": torch.randint(0, 256, (3, 3, 5, 5), dtype=torch.uint8, generator=g)},
                     torch.zeros(3, dtype=torch.long), ("a", "b", "c"))
    normalize = InputNormalizer(train, "minmax")
    out = normalize(train.inputs, torch.device("cpu"))
    for value in out.values():
        flat = value.flatten(2)
        assert torch.allclose(flat.amin(2), torch.zeros(1)) and torch.allclose(flat.amax(2), torch.ones(1))
    # a mirror negates u; scaled afterwards, that is 1 - the scaled u (not a negative u)
    mirrored = normalize(train.inputs, torch.device("cpu"),
                         lambda b: {**b, "flow": b["flow"] * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1)})
    assert torch.allclose(mirrored["flow"][:, 0], 1 - out["flow"][:, 0], atol=1e-6)
    assert torch.allclose(mirrored["flow"][:, 1], out["flow"][:, 1])


def test_standard_scaling_of_every_prepared_key():
    n = 4
    inputs = {
        "offset": torch.full((n, 3, 2, 2), 255, dtype=torch.uint8),
        "magnitude": torch.full((n, 1, 2, 2), 3.0),
        "strain": torch.full((n, 1, 2, 2), 0.5),
        "diff": torch.full((n, 1, 2, 2), -0.25),
    }
    normalize = InputNormalizer(FoldData(inputs, torch.zeros(n, dtype=torch.long), ("a",) * n))
    assert normalize.scales == {"magnitude": pytest.approx(3.0), "strain": pytest.approx(0.5)}
    out = normalize({k: v[:1] * (2 if k == "strain" else 1) for k, v in inputs.items()}, torch.device("cpu"))
    assert torch.allclose(out["offset"][0, :, 0, 0], ((1 - IMAGENET_MEAN) / IMAGENET_STD).flatten())
    assert out["magnitude"].unique().tolist() == [1.0] and out["strain"].unique().tolist() == [2.0]
    assert out["diff"].unique().tolist() == [-0.25]
