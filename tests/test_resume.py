"""Mid-fold resume and determinism: an interrupted fold continues from its saved state to the
very predictions and probabilities of an uninterrupted one, and the same command twice gives
the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from benchmarks.integrity import load_tensors, save_tensors
from benchmarks.records import InputSpec
from zoo.bench import BenchSpec, Reporter, plan_benchmark, run_benchmark
from leaderboard.store import read_result
from registry.errors import ConfigError
from zoo.cli.bench import parse_every
from zoo.engine import checkpoint as checkpoints
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import explain_nondeterministic
from zoo.engine.trainer import FoldData, TrainConfig, fit_predict


class Noisy(nn.Module):
    """Everything a state must carry: parameters, batch-norm buffers, dropout (global RNG)."""

    inputs = InputSpec(("flow",))

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3))
        self.head = nn.Linear(16, 2)

    def forward(self, flow):
        return self.head(self.body(flow.mean(dim=(2, 3))))


def toy(n: int, seed: int) -> FoldData:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    flow = torch.randn(n, 2, 8, 8, generator=g)
    flow[:, 0] += (labels * 2 - 1)[:, None, None].float()
    return FoldData({"flow": flow}, labels, tuple(f"s{i % 6}" for i in range(n)))


def outcome_of(outcome) -> tuple:
    return outcome.predictions, outcome.probabilities, outcome.losses, outcome.selected_epoch


class Stop(Exception):
    pass


def interrupt(cfg, train, test, state, at, every):
    """Train until epoch ``at`` ends, saving the fold's state every ``every`` epochs, then stop."""

    def stop(epoch, loss):
        if epoch == at:
            raise Stop

    with pytest.raises(Stop):
        fit_predict(Noisy, train, test, cfg, 2, stop, FoldCheckpoint(state, every=every))


@pytest.mark.parametrize("kwargs", [{"selection": "val"}, {"optimizer": "sgd", "lr_decay": 0.7}])
def test_fold_continues_from_its_state_to_the_same_outcome(tmp_path, caplog, kwargs):
    cfg = TrainConfig(epochs=5, batch_size=8, lr=0.05, seed=3, **kwargs)  # augmentation on: generator draws
    train, test = toy(48, 1), toy(20, 2)
    reference = outcome_of(fit_predict(Noisy, train, test, cfg, 2))
    assert outcome_of(fit_predict(Noisy, train, test, replace(cfg, seed=4), 2))[1] != reference[1]

    state = tmp_path / "fold.state.safetensors"
    interrupt(cfg, train, test, state, at=3, every=2)
    epochs = []

    def record(epoch, loss):
        epochs.append(epoch)

    resumed = fit_predict(Noisy, train, test, cfg, 2, record, FoldCheckpoint(state, every=2))
    assert epochs == [3, 4, 5]  # continued after epoch 2, the last saved
    assert outcome_of(resumed) == reference

    state.write_bytes(state.read_bytes()[:-100])  # a truncated state is reported, not used
    epochs.clear()
    again = fit_predict(Noisy, train, test, cfg, 2, record, FoldCheckpoint(state, every=0))
    assert epochs == [1, 2, 3, 4, 5] and outcome_of(again) == reference
    assert f"warning: {state}: unreadable" in caplog.text


def edit_saved_state(state, edit) -> None:
    """Rewrite the JSON state of the checkpoint file ``state`` through ``edit`` (in place)."""
    tensors, metadata = load_tensors(state)
    saved = json.loads(metadata["state"])
    edit(saved)
    save_tensors(state, tensors, {"state": json.dumps(saved)})


def test_a_resumed_fold_counts_the_time_spent_before_it_stopped(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=3)
    train, test, state = toy(48, 1), toy(20, 2), tmp_path / "fold.state.safetensors"
    interrupt(cfg, train, test, state, at=2, every=1)

    def as_if_slow(saved: dict) -> None:
        assert 0 < saved["seconds"] < 60  # epoch 1's time, as measured
        saved["seconds"] = 1000.0  # as if epoch 1 had taken that long before a restart

    edit_saved_state(state, as_if_slow)
    resumed = fit_predict(Noisy, train, test, cfg, 2, checkpoint=FoldCheckpoint(state, every=1))
    assert 1000 < resumed.seconds < 1060


def test_state_saved_under_another_configuration_is_not_used(tmp_path, caplog):
    cfg = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=3)
    train, test, state = toy(48, 1), toy(20, 2), tmp_path / "fold.state.safetensors"
    interrupt(cfg, train, test, state, at=2, every=1)
    epochs = []
    other = replace(cfg, lr=0.1)
    outcome = fit_predict(Noisy, train, test, other, 2, lambda e, _: epochs.append(e), FoldCheckpoint(state))
    assert epochs == [1, 2, 3]  # started over, with the new configuration
    assert outcome_of(outcome) == outcome_of(fit_predict(Noisy, train, test, other, 2))
    assert f"warning: {state} was saved under another training configuration" in caplog.text


def test_state_saved_before_a_setting_existed_is_used(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=8, lr=0.05, seed=3)
    train, test, state = toy(48, 1), toy(20, 2), tmp_path / "fold.state.safetensors"
    interrupt(cfg, train, test, state, at=2, every=1)
    edit_saved_state(state, lambda saved: saved["config"].pop("order"))  # as before --order existed (it shuffled)
    epochs = []
    resumed = fit_predict(Noisy, train, test, cfg, 2, lambda e, _: epochs.append(e), FoldCheckpoint(state, every=1))
    assert epochs == [3] and outcome_of(resumed) == outcome_of(fit_predict(Noisy, train, test, cfg, 2))


def test_state_is_saved_every_n_epochs_or_after_two_minutes(tmp_path, monkeypatch):
    every_2 = FoldCheckpoint(tmp_path / "a", every=2)
    assert [e for e in range(1, 8) if every_2.due(e, 7)] == [2, 4, 6]  # never at the last epoch
    assert not any(FoldCheckpoint(tmp_path / "b", every=0).due(e, 7) for e in range(1, 8))
    clock = iter([0.0, 60.0, 119.0, 121.0])
    monkeypatch.setattr(checkpoints.time, "monotonic", lambda: next(clock))
    auto = FoldCheckpoint(tmp_path / "c")
    auto.restore({}, None, None, None, None)  # no state: a fresh start at t=0
    assert [auto.due(1, 9), auto.due(2, 9), auto.due(3, 9)] == [False, False, True]


FAST = {"epochs": 2, "input_size": 16, "batch_size": 16}


def bench(out: Path, **kw) -> BenchSpec:
    return BenchSpec(model="flow_resnet18", protocol="holdout", device="cpu", out=out, overrides=FAST, **kw)


def samples(result: dict) -> list:
    return [(s["clip"], s["prediction"], s["probabilities"]) for f in result["folds"] for s in f["samples"]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """An uninterrupted run, saving no state."""
    out = tmp_path_factory.mktemp("reference")
    return read_result(run_benchmark(plan_benchmark(bench(out, checkpoint_every=0))))


class Epochs(Reporter):
    """Records epochs and messages; raises at ``stop_at``; checks no state outlives its fold."""

    def __init__(self, out: Path, stop_at: int | None = None):
        self.out, self.stop_at, self.epochs, self.messages = out, stop_at, [], []

    def message(self, text):
        self.messages.append(text)

    def epoch_finished(self, fold, epoch, loss):
        self.epochs.append(epoch)
        if epoch == self.stop_at:
            raise KeyboardInterrupt

    def fold_finished(self, fold, record, reused):
        assert not list(self.out.glob(f".partial/*/{fold.name}.state.safetensors"))


def test_bench_interrupted_mid_fold_gives_the_uninterrupted_result(tmp_path, reference):
    plan = plan_benchmark(bench(tmp_path, checkpoint_every=1))
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan, Epochs(tmp_path, stop_at=1))
    (state,) = tmp_path.glob(".partial/*/holdout.state.safetensors")
    resumed = Epochs(tmp_path)
    result = read_result(run_benchmark(plan, resumed))
    assert resumed.epochs == [2] and resumed.messages == [
        f"fold holdout: continuing from its saved state {state}"]
    assert samples(result) == samples(reference) and result["metrics"] == reference["metrics"]
    assert not (tmp_path / ".partial" / result["run_id"]).exists()


def test_same_command_twice_in_two_processes_gives_identical_results(tmp_path, reference):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "from zoo.cli import main; main()", "bench", "flow_resnet18",
               "--protocol", "holdout", "--device", "cpu", "--epochs", "2", "--input-size", "16",
               "--batch-size", "16", "--out", str(tmp_path)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    (path,) = tmp_path.glob("*.json")
    result = read_result(path)
    assert result["run_id"] == reference["run_id"]
    assert samples(result) == samples(reference) and result["metrics"] == reference["metrics"]
    assert [f["losses"] for f in result["folds"]] == [f["losses"] for f in reference["folds"]]


@pytest.fixture
def restore_determinism():
    saved = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    yield
    torch.use_deterministic_algorithms(saved[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1:3]
    if saved[3] is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def test_deterministic_flag_sets_torch_switches_and_is_recorded(tmp_path, reference, restore_determinism):
    os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path, deterministic=True))))
    assert result["training"]["deterministic"] is True
    assert result["training"]["determinism"] == {
        "deterministic_algorithms": True, "cudnn_deterministic": True, "cudnn_benchmark": False,
        "cublas_workspace_config": ":4096:8"}
    assert reference["training"]["determinism"]["deterministic_algorithms"] is False
    assert result["run_id"] != reference["run_id"]  # never resumed from folds of the other kind
    assert samples(result) == samples(reference)  # on CPU the switches change nothing


def test_an_op_without_deterministic_kernel_is_a_one_line_error():
    with pytest.raises(ConfigError, match="model tiny uses grid_sampler_2d_backward_cuda, which has no"):
        with explain_nondeterministic("tiny"):
            raise RuntimeError("grid_sampler_2d_backward_cuda does not have a deterministic implementation, "
                               "but you set 'torch.use_deterministic_algorithms(True)'.")
    with pytest.raises(RuntimeError, match="out of memory"):
        with explain_nondeterministic("tiny"):
            raise RuntimeError("CUDA out of memory")


def test_bad_checkpoint_interval_fails_before_anything_is_written(tmp_path):
    with pytest.raises(ConfigError, match="--checkpoint-every must be auto or epochs >= 0, not -1"):
        plan_benchmark(bench(tmp_path / "results", checkpoint_every=-1))
    assert not (tmp_path / "results").exists()
    with pytest.raises(ConfigError, match="--checkpoint-every must be auto or a number of epochs, not 'o"):
        parse_every("often")
    assert (parse_every("auto"), parse_every("3")) == (None, 3)
