"""``zoo bench --save-weights``: each fold's final weights beside the result, kept on resume,
rebuilding the recorded predictions."""

import pytest
from fixtures.predictions import assert_same_predictions

from benchmarks.runner import BenchSpec, Reporter, plan_benchmark, run_benchmark
from leaderboard.store import read_result, weights_dir
from zoo.engine.saved import fold_meta


def test_saved_fold_rebuilds_the_recorded_predictions(saved_run):
    result = read_result(saved_run)
    (fold,) = result["folds"]
    weights = weights_dir(saved_run) / f"{fold['name']}.safetensors"
    meta = fold_meta(weights)
    assert (meta["run_id"], meta["model"], meta["options"]["width"]) == (result["run_id"], "miacnet", 4)
    assert meta["test_subjects"] == fold["test_subjects"]
    assert_same_predictions(weights, result, fold)


class StopAfter(Reporter):
    def __init__(self, folds):
        self.left, self.reused = folds, []

    def fold_finished(self, fold, record, reused):
        if reused:
            self.reused.append(fold.name)
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


def test_resume_keeps_saved_folds_and_retrains_folds_finished_without_weights(tmp_path):
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
    assert fold_meta(weights)["normalizer"]["flow_scale"] > 0
    assert_same_predictions(weights, result, result["folds"][0])  # flow scaled as in training
