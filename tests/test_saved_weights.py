"""``zoo bench --save-weights``: each fold's final weights beside the result, kept on resume,
rebuilding the recorded predictions, and used by ``zoo explain`` instead of retraining."""

import socket

import pytest
from fixtures.reporters import StopAfter
from fixtures.predictions import assert_same_predictions
from typer.testing import CliRunner

from zoo.bench import BenchSpec, plan_benchmark, run_benchmark
from leaderboard.store import read_result, weights_dir
from zoo.cli import app
from zoo.engine.saved import fold_meta


def test_saved_fold_rebuilds_the_recorded_predictions(saved_run):
    result = read_result(saved_run)
    (fold,) = result["folds"]
    weights = weights_dir(saved_run) / f"{fold['name']}.safetensors"
    meta = fold_meta(weights)
    assert (meta["run_id"], meta["model"], meta["options"]["width"]) == (result["run_id"], "miacnet", 4)
    assert meta["test_subjects"] == fold["test_subjects"]
    assert_same_predictions(weights, result, fold)


def test_resume_keeps_saved_folds_and_retrains_folds_finished_without_weights(tmp_path, monkeypatch):
    def refuse(*args):
        raise AssertionError("a benchmark run tried to open a network connection")

    # the embedded default model on synth never needs the network, weights saved or not
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    def spec(save):
        overrides = {"epochs": 1, "input_size": 16, "batch_size": 16}
        return BenchSpec(
            "flow_resnet18",
            protocol="holdout",
            device="cpu",
            out=tmp_path,
            overrides=overrides,
            save_weights=save,
        )

    with pytest.raises(KeyboardInterrupt):  # the fold finishes, the run does not: no weights kept
        run_benchmark(plan_benchmark(spec(False)), StopAfter(1))
    assert list(tmp_path.glob("*.weights")) == []
    again = StopAfter(1)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan_benchmark(spec(True)), again)
    assert again.reused == []  # it had no weights: trained again to keep them
    [weights] = tmp_path.glob("*.weights/holdout.safetensors")
    kept = weights.read_bytes()
    resumed = StopAfter(100)
    path = run_benchmark(plan_benchmark(spec(True)), resumed)
    assert resumed.reused == ["holdout"] and weights_dir(path) == weights.parent
    assert weights.read_bytes() == kept
    result = read_result(path)
    assert fold_meta(weights)["normalizer"]["scales"]["flow"] > 0
    assert_same_predictions(weights, result, result["folds"][0])  # flow scaled as in training


def test_explain_uses_saved_weights_instead_of_retraining(saved_run, tmp_path):
    clip = read_result(saved_run)["folds"][0]["samples"][0]["clip"]
    args = ["explain", "miacnet", str(saved_run), clip, "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "using the saved weights of fold holdout" in result.output and "training fold" not in result.output
    assert sorted(p.name.rsplit("-", 1)[1] for p in tmp_path.glob("*.png")) == ["action.png", "position.png"]
    again = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "again")])
    assert again.exit_code == 0
    for png in tmp_path.glob("*.png"):  # the same model, not a retrained one
        assert (tmp_path / "again" / png.name).read_bytes() == png.read_bytes()
