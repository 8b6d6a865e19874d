"""``--precision``: bf16 autocast (channels-last on CPU) where the device has native bf16,
refused elsewhere; a recorded hyper-parameter whose default leaves run ids as they were.

This machine's CPU may lack native bf16; the tests that train in bf16 pretend it has it.
Emulated bf16 rounds exactly as native bf16 does, it is only slower."""

import sys

import pytest
import torch
import torch.nn as nn

import zoo.engine.trainer as trainer
from benchmarks.records import InputSpec
from leaderboard.store import read_result, result_run_id
from registry.errors import ConfigError
from zoo.bench import BenchSpec, plan_benchmark, run_benchmark
from zoo.cli import main
from zoo.engine.augment import AugmentConfig
from zoo.engine.trainer import FoldData, TrainConfig, fit_predict

TINY_RUN = {"epochs": 1, "input_size": 32, "batch_size": 16}


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def no_native_bf16(monkeypatch):
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: False)


class TinyConv(nn.Module):
    """Convolution, batch norm and a linear head: the layers autocast and channels-last change."""

    inputs = InputSpec(("flow",))

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 3)), nn.Flatten(),  # left, middle, right: where the blob is
        )
        self.head = nn.Linear(8 * 3, 3)

    def forward(self, flow):
        return self.head(self.features(flow))


def blobs(n: int, seed: int) -> FoldData:
    """Three classes: a motion blob in the left, middle or right third of a noisy 16x16 field."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    flow = torch.randn(n, 2, 16, 16, generator=g)
    for i, label in enumerate(labels.tolist()):
        flow[i, :, 5:11, 5 * label : 5 * label + 6] += 0.5
    return FoldData({"flow": flow}, labels, tuple(f"s{i % 4}" for i in range(n)))


def test_bf16_training_predicts_as_fp32_does(native_bf16):
    train, test = blobs(192, 1), blobs(96, 2)
    outcomes = {}
    for precision in ("fp32", "bf16"):
        cfg = TrainConfig(epochs=8, batch_size=32, lr=0.01, precision=precision,
                          augment=AugmentConfig(flip=False, rotate_deg=0, crop_pad=0), device="cpu")
        outcomes[precision] = fit_predict(TinyConv, train, test, cfg, num_classes=3)
    fp32, bf16 = (torch.tensor(outcomes[p].predictions) for p in ("fp32", "bf16"))
    assert (fp32 == test.labels).float().mean() > 0.9  # the task is learnt, so agreement means something
    # bf16 keeps 8 bits of mantissa: the two runs drift apart a little, not to other answers
    # (seen on four seeds: 100% agreement, mean probability gap 0.001-0.005)
    assert (fp32 == bf16).float().mean() >= 0.95
    probabilities = {p: torch.tensor(outcomes[p].probabilities) for p in outcomes}
    assert (probabilities["fp32"] - probabilities["bf16"]).abs().mean() < 0.01
    assert outcomes["fp32"].losses != outcomes["bf16"].losses  # bf16 really ran
    assert all(w.is_contiguous() for w in outcomes["bf16"].weights.values())  # saved as usual


def test_bf16_is_refused_without_native_support(tmp_path, no_native_bf16):
    with pytest.raises(ConfigError, match="--precision bf16 asked for, but this CPU has no native bf16"):
        plan_benchmark(BenchSpec(model="miacnet", device="cpu", out=tmp_path,
                                 overrides={"precision": "bf16"}))
    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.01, precision="bf16", device="cpu")
    with pytest.raises(ConfigError, match="no native bf16"):  # the engine checks too, not only the plan
        fit_predict(TinyConv, blobs(8, 0), blobs(4, 1), cfg, num_classes=3)
    with pytest.raises(ConfigError, match="--precision must be one of fp32, bf16, not fp16"):
        TrainConfig(epochs=1, batch_size=4, lr=0.01, precision="fp16")


def test_cli_refuses_bf16_in_one_line(tmp_path, no_native_bf16, monkeypatch, capfd):
    out = tmp_path / "r"
    monkeypatch.setattr(sys, "argv", ["zoo", "bench", "miacnet", "--precision", "bf16", "--out", str(out)])
    with pytest.raises(SystemExit) as exit_:
        main()
    error = capfd.readouterr().err.strip()
    assert exit_.value.code == 2 and len(error.splitlines()) == 1 and "no native bf16" in error
    assert not out.exists()


def test_precision_is_recorded_and_part_of_the_run_id(tmp_path, native_bf16):
    def run(precision: str | None) -> dict:
        overrides = {**TINY_RUN, **({"precision": precision} if precision else {})}
        spec = BenchSpec(model="miacnet", protocol="holdout", device="cpu", out=tmp_path / str(precision),
                         options={"width": 4}, overrides=overrides)
        return read_result(run_benchmark(plan_benchmark(spec)))

    default, bf16 = run(None), run("bf16")
    assert default["hyperparameters"]["precision"] == default["training"]["precision"] == "fp32"
    assert bf16["hyperparameters"]["precision"] == bf16["training"]["precision"] == "bf16"
    assert bf16["hyperparameter_sources"]["precision"] == "command line"
    assert result_run_id(bf16) == bf16["run_id"] != default["run_id"]
    # the default is left out of the identity: the id of the same run recorded before --precision
    before = {**default, "hyperparameters": {k: v for k, v in default["hyperparameters"].items()
                                             if k != "precision"}}
    assert result_run_id(before) == result_run_id(default) == default["run_id"]
