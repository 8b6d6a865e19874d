"""Two configurations on the same clips: which differences are real (``zoo compare``).

Each side is one checked run or, with its other seeds, every run of its configuration (runs
that differ only in their seed); seeds are reduced to their seed-mean per subject. The test is
:func:`benchmarks.significance.compare`: differences of UF1 and UAR (whole set and each part of
a composite) with paired bootstrap intervals over subjects and paired permutation p-values, and
per-class recall differences. With at least two seeds a side, the same differences are also
tested over seeds (:func:`benchmarks.significance.across_seeds`), which sees the training noise
the paired test holds fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from benchmarks import significance
from leaderboard.check import CheckFailed, Run, load_runs, registered_part_of
from leaderboard.table import benchmark_of, configuration_of, pretraining_recipe, recipe_of, registered_models
from registry.errors import ConfigError


def configuration(run: Run) -> str:
    return configuration_of(run.result, pretraining_recipe(run.result.get("pretraining")))


def load_side(path: Path, seeds: bool) -> list[Run]:
    """The checked run of the result file ``path`` and, with ``seeds``, the other seeds of its
    configuration found in the same folder (best first: lowest seed)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"result file {path} does not exist; give a result file of zoo bench (results/*.json)")
    loaded = load_runs([path.parent])
    chosen = next((run for run in loaded.runs if run.path.resolve() == path.resolve()), None)
    if chosen is None:
        problems = [f for f in loaded.failures if f.path.resolve() == path.resolve()]
        reason = f": {problems[0].field}: {problems[0].message}" if problems else ""
        raise CheckFailed(f"{path} is not a checked mer-zoo result{reason}; zoo leaderboard --check lists why")
    if not seeds:
        return [chosen]
    wanted = configuration(chosen)
    return sorted((run for run in loaded.runs if configuration(run) == wanted), key=lambda r: r.result["seed"])


def describe(runs: Sequence[Run]) -> dict:
    """One side: what ran, where it departs from its model's published recipe (``None``: no
    recipe registered), its seeds and files."""
    first = runs[0].result
    return {"model": first["model"]["name"], "options": first["model"]["options"],
            "departures": recipe_of(first, registered_models().get(first["model"]["name"])),
            "dataset": first["dataset"]["name"], "protocol": first["protocol"]["name"], "seeds": [r.result["seed"] for r in runs],
            "files": [str(r.path) for r in runs]}


def compare_runs(a: Sequence[Run], b: Sequence[Run]) -> dict:
    """The JSON of ``zoo compare``: A minus B."""
    benchmarks = [benchmark_of(run.result["dataset"]["name"]) for run in (a[0], b[0])]
    if benchmarks[0] != benchmarks[1]:
        raise ConfigError(f"A is a run on {benchmarks[0]}, B on {benchmarks[1]}: different clips; compare runs "
                          "of one benchmark")
    protocols = [run.result["protocol"]["name"] for run in (a[0], b[0])]
    if protocols[0] != protocols[1]:
        raise ConfigError(f"A ran under protocol {protocols[0]}, B under {protocols[1]}: each clip was predicted by "
                          "models trained on other subjects; compare runs of one protocol")
    classes = [tuple(run.result["dataset"]["classes"]) for run in (a[0], b[0])]
    if classes[0] != classes[1]:
        raise ConfigError(f"A and B have different class sets ({', '.join(classes[0])} vs {', '.join(classes[1])}); "
                          "compare runs of one class set")
    samples = [[[s for f in r.result["folds"] for s in f["samples"]] for r in side] for side in (a, b)]
    counts = [significance.subject_counts(side, classes[0]) for side in samples]
    significance.check_comparable(*counts)
    parts = significance.subjects_by_part((clip for clip, _ in counts[0].clips),
                                          registered_part_of(a[0].result["dataset"]["name"]))
    report = {"a": describe(a), "b": describe(b), **significance.compare(*counts, parts)}
    if min(len(a), len(b)) >= 2:
        seeds = [[significance.subject_counts([run], classes[0]) for run in side] for side in samples]
        report["across_seeds"] = significance.across_seeds(*seeds, parts)
    return report
