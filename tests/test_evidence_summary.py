"""The evidence scripts' seed summaries: the numbers the README quotes come from here."""

from experiments.perf._evidence import markdown_table, summarize_runs


def run(seed: int, uf1: float, uar: float, accuracy: float, fold_seconds: list[float]) -> dict:
    return {
        "seed": seed,
        "run_id": f"run{seed}",
        "duration_s": sum(fold_seconds) + 5.0,
        "folds": [{"seconds": s} for s in fold_seconds],
        "model": {"num_parameters": 1683},
        "hyperparameters": {"epochs": 15},
        "metrics": {"uf1": uf1, "uar": uar, "accuracy": accuracy},
    }


def test_mean_and_population_spread_over_seeds():
    row = summarize_runs([run(0, 0.5, 0.4, 0.6, [10.0, 20.0]), run(1, 0.6, 0.5, 0.7, [30.0]),
                          run(2, 0.7, 0.9, 0.8, [1.5, 1.5])])
    assert row["seeds"] == [0, 1, 2]
    assert row["fold_seconds"] == [30.0, 30.0, 3.0]
    assert row["uf1_mean"] == 0.6
    assert abs(row["uf1_std"] - (0.02 / 3) ** 0.5) < 1e-12  # population form: sqrt(mean sq. dev.)
    table = markdown_table({"ststnet": row})
    assert "| ststnet | 3 | 0.600 ± 0.082 | 0.600 ± 0.216 | 0.700 | 0.500, 0.600, 0.700 | 21 |" in table


def test_a_mean_is_rounded_once_so_it_agrees_with_its_seeds():
    # 0.62146 rounded to 4 places is 0.6215, which a second rounding turns into 0.622
    row = summarize_runs([run(0, 0.62146295693799, 0.5984, 0.6536, [100.0])])
    line = markdown_table({"mmnet": row}).splitlines()[2]
    assert line.startswith("| mmnet | 1 | 0.621 ± 0.000 |")
    assert "| 0.621 |" in line
