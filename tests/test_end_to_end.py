"""The real end-to-end check: the baseline, full LOSO on synth at its registered budget."""

import pytest

from zoo.bench import BenchSpec, plan_benchmark, run_benchmark
from leaderboard.store import read_result


@pytest.mark.slow
def test_flow_baseline_full_loso_beats_chance_by_a_wide_margin(tmp_path):
    plan = plan_benchmark(BenchSpec(model="flow_resnet18", device="cpu", out=tmp_path))
    result = read_result(run_benchmark(plan))
    assert result["protocol"]["num_folds"] == 12 and result["hyperparameters"]["epochs"] == 15
    clips = [s["clip"] for f in result["folds"] for s in f["samples"]]
    assert len(clips) == len(set(clips)) == result["dataset"]["num_samples"]  # each tested once
    # chance is 0.2 for 5 classes
    assert result["metrics"]["uf1"] > 0.5 and result["metrics"]["uar"] > 0.5
