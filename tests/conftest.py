"""Shared fixtures: one cache (generated synth data, prepared tensors) per test session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def zoo_cache(tmp_path_factory):
    """Every test writes generated data and caches under a temporary ``ZOO_CACHE``."""
    cache = os.environ.get("ZOO_TEST_CACHE") or str(tmp_path_factory.mktemp("zoo-cache"))
    previous = os.environ.get("ZOO_CACHE")
    os.environ["ZOO_CACHE"] = cache
    yield cache
    if previous is None:
        os.environ.pop("ZOO_CACHE", None)
    else:
        os.environ["ZOO_CACHE"] = previous


@pytest.fixture(scope="session")
def synth_index(zoo_cache):
    from benchmarks.datasets import load_dataset

    return load_dataset("synth")


@pytest.fixture(scope="session")
def saved_run(zoo_cache, tmp_path_factory):
    """A tiny MIACNet run that kept its fold weights (zoo bench --save-weights): its result file."""
    from zoo.bench import BenchSpec, plan_benchmark, run_benchmark

    spec = BenchSpec(
        model="miacnet",
        protocol="holdout",
        device="cpu",
        out=tmp_path_factory.mktemp("saved-run"),
        options={"width": 4},
        overrides={"epochs": 1, "input_size": 32, "batch_size": 16},
        save_weights=True,
    )
    return run_benchmark(plan_benchmark(spec))
