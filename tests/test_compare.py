"""``zoo compare`` on fixture result files: the figures it reports are the two runs' own,
paired per part of a composite, and runs that did not predict the same clips the same way are
refused with one line."""

import json

import pytest

from benchmarks.metrics import unweighted_average_recall, unweighted_f1
from fixtures.results import make_result, write_result
from leaderboard.compare import compare_runs, load_side
from registry.errors import ConfigError
from test_leaderboard import zoo


def pooled(result: dict, metric) -> float:
    samples = [s for fold in result["folds"] for s in fold["samples"]]
    return metric([s["label"] for s in samples], [s["prediction"] for s in samples], len(result["dataset"]["classes"]))


@pytest.fixture
def results(tmp_path):
    """alpha on frames (seeds 0, 1) and gamma on released flow images of the same clips; delta on synth."""
    runs = {
        "alpha": [make_result("alpha", seed, skill=0.7, dataset="megc2019") for seed in (0, 1)],
        "gamma": [make_result("gamma", 0, skill=0.4, dataset="megc2019-flow")],
        "delta": [make_result("delta", 0, skill=0.6)],
    }
    return {name: [(write_result(tmp_path, r), r) for r in side] for name, side in runs.items()}


def test_compare_reports_the_difference_of_the_two_runs_whole_and_per_part(results, monkeypatch, capsys):
    (path_a, a), _ = results["alpha"]
    ((path_b, b),) = results["gamma"]
    status, out, _ = zoo(monkeypatch, capsys, "compare", path_a, path_b, "--json")
    assert status == 0
    report = json.loads(out)
    assert report["a"]["dataset"] == "megc2019" and report["b"]["dataset"] == "megc2019-flow"
    assert report["a"]["protocol"] == report["b"]["protocol"] == "loso"
    for metric, compute in (("uf1", unweighted_f1), ("uar", unweighted_average_recall)):
        difference = pooled(a, compute) - pooled(b, compute)
        assert report[metric]["difference"] == pytest.approx(difference, abs=1e-12)
        low, high = report[metric]["ci"]
        assert low <= difference <= high and 0 < report[metric]["p_value"] <= 1
    assert sorted(report["parts"]) == ["casme2", "samm", "smic"]
    assert report["clips"] == len([s for fold in a["folds"] for s in fold["samples"]])


def test_compare_with_seeds_compares_the_seed_means(results, monkeypatch, capsys):
    (path_a, _), _ = results["alpha"]
    ((path_b, _),) = results["gamma"]
    status, out, _ = zoo(monkeypatch, capsys, "compare", path_a, path_b, "--seeds", "--json")
    assert status == 0
    assert json.loads(out)["a"]["seeds"] == [0, 1] and json.loads(out)["b"]["seeds"] == [0]


def test_runs_on_other_clips_are_refused_with_one_line(results, monkeypatch, capsys):
    (path_a, _), _ = results["alpha"]
    ((path_d, _),) = results["delta"]
    status, out, err = zoo(monkeypatch, capsys, "compare", path_a, path_d)
    assert status == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "A is a run on megc2019, B on synth: different clips" in err


def test_runs_under_other_protocols_are_refused(results):
    (path_a, _), _ = results["alpha"]
    ((path_b, _),) = results["gamma"]
    a, b = load_side(path_a, False), load_side(path_b, False)
    b[0].result["protocol"]["name"] = "lodo"
    with pytest.raises(ConfigError, match="A ran under protocol loso, B under lodo"):
        compare_runs(a, b)


def test_compare_names_recipe_departures_and_tests_across_seeds_with_two_seeds_a_side(tmp_path, monkeypatch, capsys):
    from fixtures.results import FIXTURE_MODELS

    from leaderboard.table import recipe_of

    monkeypatch.setattr("leaderboard.compare.registered_models", lambda: FIXTURE_MODELS)
    a = [make_result("alpha", seed, skill=0.8, dataset="megc2019", hyperparameters={"epochs": 3}) for seed in (0, 1)]
    recipe = dict(FIXTURE_MODELS["alpha"].recipe)
    b = [make_result("alpha", seed, skill=0.5, dataset="megc2019", hyperparameters=recipe) for seed in (0, 1)]
    paths = [write_result(tmp_path / side, r) for side, runs in (("a", a), ("b", b)) for r in runs]
    status, out, _ = zoo(monkeypatch, capsys, "compare", paths[0], paths[2], "--seeds", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["a"]["departures"] == recipe_of(a[0], FIXTURE_MODELS["alpha"])
    assert "epochs 3 (recipe 30)" in report["a"]["departures"]
    assert report["b"]["departures"] == []
    seeds = report["across_seeds"]
    assert seeds["uf1"]["a"] == pytest.approx([pooled(r, unweighted_f1) for r in a])
    assert seeds["uar"]["b"] == pytest.approx([pooled(r, unweighted_average_recall) for r in b])
    assert seeds["uf1"]["splits"] == 6 and sorted(seeds["parts"]) == ["casme2", "samm", "smic"]
    status, out, _ = zoo(monkeypatch, capsys, "compare", paths[0], paths[2], "--seeds")
    assert status == 0 and "differs: epochs 3 (recipe 30)" in " ".join(out.split()) and "Across seeds" in out
    status, out, _ = zoo(monkeypatch, capsys, "compare", paths[0], paths[2], "--json")
    assert "across_seeds" not in json.loads(out)  # one seed a side: nothing to test over seeds
