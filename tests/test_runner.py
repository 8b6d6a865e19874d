"""The runner end to end on the synthetic dataset: result files, resume, validation."""

import json

import pytest

from fixtures.reporters import StopAfter
from benchmarks.metrics import unweighted_f1
from zoo.bench import BenchSpec, plan_benchmark, run_benchmark
from leaderboard.store import read_result, result_run_id
from registry.errors import ConfigError, DataError, UnknownNameError, ZooError

FAST = {"epochs": 1, "input_size": 32, "batch_size": 16}


def spec(tmp_path, **kw):
    return BenchSpec(
        **{"model": "flow_resnet18", "device": "cpu", "out": tmp_path / "results", "overrides": FAST, **kw}
    )


def test_holdout_run_writes_a_self_describing_result(tmp_path):
    path = run_benchmark(plan_benchmark(spec(tmp_path, protocol="holdout")))
    result = read_result(path)
    assert result["schema_version"] == 1 and path.parent == tmp_path / "results"
    assert result["dataset"]["class_set"] == "casme2-5" and result["dataset"]["num_subjects"] == 12
    assert result["hyperparameters"]["epochs"] == 1
    assert result["hyperparameter_sources"]["epochs"] == "command line"
    assert result["hyperparameter_sources"]["lr"] == "model flow_resnet18 defaults"
    assert result["training"]["selection_rule"].startswith("model of the last epoch")
    assert {"torch", "timm", "python", "git_revision"} <= set(result["environment"])
    (fold,) = result["folds"]
    assert len(fold["test_subjects"]) == 3
    assert len(fold["train_subjects"]) == 9 and not set(fold["train_subjects"]) & set(fold["test_subjects"])
    assert result_run_id(result) == result["run_id"]  # the leaderboard's --check recomputes it so
    samples = fold["samples"]
    assert result["metrics"]["num_samples"] == len(samples)
    assert result["metrics"]["uf1"] == pytest.approx(
        unweighted_f1([s["label"] for s in samples], [s["prediction"] for s in samples], 5)
    )
    assert not (tmp_path / "results" / ".partial" / result["run_id"]).exists()


def test_interrupted_loso_resumes_without_redoing_finished_folds(tmp_path, caplog):
    plan = plan_benchmark(spec(tmp_path, overrides={**FAST, "input_size": 16}))
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan, StopAfter(2))
    partial = list((tmp_path / "results" / ".partial").glob("*/*.json"))
    assert sorted(p.stem for p in partial) == ["sub01", "sub02"]
    first = json.loads(partial[0].read_text())
    assert first.pop("sha256")  # over the rest of the record
    partial[1].write_text("{ truncated")  # a damaged fold file counts as unfinished
    resumed = StopAfter(100)
    result = read_result(run_benchmark(plan, resumed))
    assert resumed.reused == [partial[0].stem]
    assert f"{partial[1]}: not readable as JSON" in caplog.text
    assert len(result["folds"]) == 12
    assert next(f for f in result["folds"] if f["name"] == first["name"]) == first
    assert list((tmp_path / "results" / ".partial").glob("*/*.json")) == []


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"model": "miacnett"}, UnknownNameError, "unknown model 'miacnett'"),
        ({"dataset": "casme3x"}, UnknownNameError, "unknown dataset"),
        ({"classes": "7"}, ConfigError, "--classes 7 is not supported by dataset 'synth'"),
        ({"overrides": {"epochs": 0}}, ConfigError, "--epochs must be a positive integer"),
        ({"overrides": {"batch_size": 0}}, ConfigError, "--batch-size must be a positive integer"),
        ({"dataset": "casme2", "data_root": "/no/such/folder"}, DataError, "not found at --data-root"),
        ({"options": {"depth": "3"}}, ConfigError, "has no option 'depth'"),
        ({"model": "miacnet", "options": {"fusion": "maybe"}}, ZooError, "choose one of sum, gate, concat"),
    ],
)
def test_bad_input_fails_before_anything_is_written(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        plan_benchmark(spec(tmp_path, **kwargs))
    assert not (tmp_path / "results").exists()


def test_missing_sheet_is_reported_with_the_fix(tmp_path):
    (tmp_path / "casme2").mkdir()
    plan = plan_benchmark(spec(tmp_path, dataset="casme2", data_root=str(tmp_path / "casme2")))
    with pytest.raises(DataError, match="CASME2-coding"):
        run_benchmark(plan)
    assert not (tmp_path / "results").exists()
