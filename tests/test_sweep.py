"""``zoo sweep``: a TOML file of runs, checked before any run, each run skipped once its result
exists, and a table of how each ended."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leaderboard.store import read_result
from registry.errors import ConfigError
from zoo.bench.sweep import plan_sweep, read_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def sweep_file(tmp_path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_the_example_file_plans(tmp_path):
    specs = read_sweep(ROOT / "benchmarks" / "sweeps" / "example.toml")
    assert [(s.model, s.seed) for s in specs] == [("ststnet", 0), ("ststnet", 1), ("flow_resnet18", 0),
                                                 ("flow_resnet18", 1)]
    assert {s.executor.name for s in specs} == {"process"} and specs[0].overrides == {"epochs": 2}


@pytest.mark.parametrize(
    "text,message",
    [('model = ["ststnet"]', "model: unknown key; a sweep file has models, datasets"),
     ('models = "ststnet"', "models: must be a non-empty list of strs, not 'ststnet'"),
     ('models = ["ststnet"]\nseeds = [0, "1"]', "seeds: must be a non-empty list of ints"),
     ('models = ["ststnet"]\n[bench]\nepoch = 2', "bench.epoch: not a zoo bench flag a sweep sets"),
     ('models = ["ststnet"]\n[bench]\nepochs = "2"', "bench.epochs: '2' is not of the flag's type"),
     ('models = ["ststnet"]\noptions = [{width = [1]}]', r"options\[1\].width: must be a string or a number"),
     ('models = ["ststnet"]\n[data_roots]\ncasme2 = "x"', "data_roots.casme2: not one of the sweep's datasets"),
     ('models = [', "not valid TOML")],
)
def test_bad_sweep_files_name_the_file_and_key(tmp_path, text, message):
    path = sweep_file(tmp_path, text)
    with pytest.raises(ConfigError, match=f"{path}: {message}"):
        read_sweep(path)


def test_a_run_that_cannot_be_planned_is_named_before_any_runs(tmp_path):
    path = sweep_file(tmp_path, 'models = ["ststnet", "miacnet"]\noptions = [{depth = 3}]\n'
                                f'[bench]\nout = "{tmp_path / "results"}"')
    with pytest.raises(ConfigError, match=f"{path}: run ststnet on synth, seed 0, depth=3: .*has no option 'depth'"):
        plan_sweep(path)
    assert not (tmp_path / "results").exists()


def test_sweep_runs_then_skips_and_prints_the_table(tmp_path):
    path = sweep_file(tmp_path, 'models = ["ststnet"]\nseeds = [0, 1]\n[bench]\nprotocol = "holdout"\n'
                                f'epochs = 1\ndevice = "cpu"\nout = "{tmp_path / "results"}"')
    first = list(run_sweep(plan_sweep(path)))
    assert [(r.plan.spec.seed, r.status) for r in first] == [(0, "run"), (1, "run")]
    assert read_result(first[1].result)["seed"] == 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    again = subprocess.run([sys.executable, "-c", "from zoo.cli import main; main()", "sweep", str(path)],
                           env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    metrics = read_result(first[0].result)["metrics"]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in again.stdout.splitlines()
            if line.startswith("│ ststnet")]
    assert rows[0][:3] == ["ststnet", "synth", "0"] and rows[0][4:] == [f"{metrics['uf1']:.3f}", f"{metrics['uar']:.3f}", "skipped"]
    assert [row[6] for row in rows] == ["skipped", "skipped"]
    assert sorted(p.name for p in (tmp_path / "results").glob("*.json")) == sorted(r.result.name for r in first)
