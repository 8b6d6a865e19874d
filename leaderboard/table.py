"""Leaderboard tables: pure functions of the result files.

Runs that differ only in their seed form one row (mean and standard deviation over seeds);
anything else that changes the number (options, pre-training, class set, protocol, budget)
makes a separate row, so two protocol versions are never mixed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from leaderboard.store import iter_results

ROW_KEYS = ["dataset", "classes", "protocol", "model", "variant", "pretraining", "budget"]


def variant_of(result: dict) -> str:
    """Model options that differ from the model's registered defaults."""
    from zoo.models import model_options

    try:
        defaults = model_options(result["model"]["name"])
    except Exception:  # a model no longer registered: show every option
        defaults = {}
    changed = {k: v for k, v in result["model"]["options"].items() if defaults.get(k, object()) != v}
    return ",".join(f"{k}={v}" for k, v in sorted(changed.items())) or "default"


def flatten(result: dict) -> dict:
    hyper = result["hyperparameters"]
    pretraining = result.get("pretraining") or {}
    return {
        "dataset": result["dataset"]["name"],
        "classes": result["dataset"]["class_set"],
        "protocol": result["protocol"]["name"],
        "model": result["model"]["name"],
        "variant": variant_of(result),
        "pretraining": pretraining.get("name", "none") if isinstance(pretraining, dict) else str(pretraining),
        "budget": f"{hyper['epochs']}ep@{hyper['input_size']}px/{hyper['selection']}",
        "seed": result["seed"],
        "uf1": result["metrics"]["uf1"],
        "uar": result["metrics"]["uar"],
        "accuracy": result["metrics"]["accuracy"],
        "run_id": result["run_id"],
    }


def leaderboard_rows(results_dir: Path, dataset: str | None = None) -> pd.DataFrame:
    """One row per configuration: seeds, UF1/UAR/accuracy mean and std, best first."""
    runs = pd.DataFrame([flatten(r) for r in iter_results(Path(results_dir))])
    columns = ROW_KEYS + ["seeds", "UF1", "UF1 std", "UAR", "UAR std", "accuracy"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    if dataset:
        runs = runs[runs["dataset"] == dataset]
    runs = runs.drop_duplicates(subset=["run_id"])
    grouped = runs.groupby(ROW_KEYS, dropna=False)
    table = grouped.agg(
        seeds=("seed", "nunique"),
        UF1=("uf1", "mean"),
        **{"UF1 std": ("uf1", lambda s: float(s.std(ddof=0)))},
        UAR=("uar", "mean"),
        **{"UAR std": ("uar", lambda s: float(s.std(ddof=0)))},
        accuracy=("accuracy", "mean"),
    ).reset_index()
    return table.sort_values(["dataset", "classes", "UF1"], ascending=[True, True, False])[columns]
