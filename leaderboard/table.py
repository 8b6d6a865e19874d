"""Leaderboard rows: pure functions of checked runs and the models' registered facts.

A benchmark is dataset x class set x protocol, and each part of a composite dataset (MEGC
2019's SMIC, CASME II and SAMM) is a benchmark of its own beside the composite. A dataset that
is another input form of a benchmark's clips (``megc2019-flow``: MEGC 2019 as released flow
images) registers that benchmark, and its rows sit in that benchmark's tables, with the input
form shown. Every reproduced row carries subject-level 95 % intervals, and each table marks
the rows whose UF1 is not significantly below its top row's (:mod:`benchmarks.significance`). Runs that
differ only in their seed form one row (mean and standard deviation over seeds); anything
else that changes the number (options, pre-training, hyper-parameters, data) makes a
separate row, so two protocol versions are never mixed. Checkpoints of one pre-training recipe
made at different seeds count as one pre-training, so runs that each fine-tune from their own
seed's checkpoint form one row too. Published figures registered with a
model (:class:`registry.reported.Reported`) sit beside its reproduced row, or form a
published-only row where no run reproduces them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from benchmarks import significance
from leaderboard.check import Run, registered_part_of
from leaderboard.store import LATER_DEFAULTS, result_run_id
from registry import DATASETS
from registry.reported import Reported

SIGNIFICANCE = 0.05  # a row whose UF1 differs from the top row's with p >= this is tied with it


@dataclass(frozen=True)
class ModelFacts:
    """What the registry knows of a model: option defaults, training recipe, published figures."""

    options: Mapping[str, Any]
    recipe: Mapping[str, Any]
    reported: tuple[Reported, ...] = ()


def registered_models() -> dict[str, ModelFacts]:
    """Facts of every registered model (its entry's ``defaults`` are its published recipe)."""
    from registry import MODELS
    from registry.options import model_options

    return {
        name: ModelFacts(
            model_options(name),
            dict(MODELS.get(name).defaults),
            tuple(MODELS.get(name).meta.get("reported", ())),
        )
        for name in MODELS.names()
    }


def benchmark_of(dataset: str) -> str:
    """The benchmark whose clips a dataset holds: itself, or the one it is an input form of."""
    return DATASETS.get(dataset).meta.get("benchmark", dataset) if dataset in DATASETS else dataset


def slug(text: str) -> str:
    """``text`` safe as a file name and an HTML id."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


@dataclass(frozen=True)
class Benchmark:
    """Dataset x class set x protocol, and the part of a composite (``None``: the whole set)."""

    dataset: str
    class_set: str
    protocol: str
    part: str | None = None

    @property
    def title(self) -> str:
        title = f"{self.dataset} · {self.class_set} · {self.protocol}"
        return f"{title} · {self.part} part" if self.part else title

    @property
    def slug(self) -> str:
        return slug("-".join(filter(None, (self.dataset, self.class_set, self.protocol, self.part))))

    def holds(self, reported: Reported) -> bool:
        return (reported.dataset, reported.class_set, reported.protocol, reported.part) == (
            self.dataset,
            self.class_set,
            self.protocol,
            self.part,
        )

    def order(self) -> tuple:
        """The composite first, then its parts."""
        return (self.dataset, self.class_set, self.protocol, self.part or "")


@dataclass
class Row:
    """One configuration on one benchmark: its seeds' runs and the model's published figures."""

    benchmark: Benchmark
    model: str
    variant: str
    pretraining: str
    recipe: list[str] | None  # departures from the model's published recipe; None: no recipe known
    config: str
    runs: list[Run] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)  # per run, recomputed, for this benchmark's part
    published: list[Reported] = field(default_factory=list)
    pretraining_recipe: dict | None = None  # what made its checkpoints, seed left out
    inputs: str = ""  # the dataset its runs read (an input form of the benchmark); "" published only
    versus_top: dict | None = None  # UF1 against the table's top row: difference, p_value, tied

    @property
    def reproduced(self) -> bool:
        return bool(self.runs)

    @cached_property
    def counts(self) -> significance.SubjectCounts:
        """The seed-mean confusion counts of each subject of this benchmark (part)."""
        part_of = registered_part_of(self.runs[0].result["dataset"]["name"])
        part = self.benchmark.part
        seeds = [
            [s for fold in run.result["folds"] for s in fold["samples"] if part is None or part_of(s["clip"]) == part]
            for run in self.runs
        ]
        return significance.subject_counts(seeds, self.classes)

    @cached_property
    def intervals(self) -> dict[str, dict]:
        """95 % subject-bootstrap interval of UF1 and UAR (of the seed-mean); {} published only."""
        return {m: significance.interval(self.counts, m) for m in significance.METRICS} if self.runs else {}

    @property
    def seeds(self) -> list[int]:
        return [run.result["seed"] for run in self.runs]

    def values(self, key: str) -> list[float]:
        return [m[key] for m in self.metrics]

    def mean(self, key: str) -> float | None:
        return float(np.mean(self.values(key))) if self.metrics else None

    def std(self, key: str) -> float | None:
        return float(np.std(self.values(key))) if self.metrics else None

    def delta(self, reported: Reported, key: str) -> float | None:
        """Reproduced mean minus the published figure (``None`` where either is missing)."""
        mine, theirs = self.mean(key), getattr(reported, key)
        return None if mine is None or theirs is None or math.isnan(mine) else mine - theirs

    @property
    def classes(self) -> list[str]:
        return self.runs[0].result["dataset"]["classes"] if self.runs else []

    @property
    def confusion(self) -> np.ndarray:
        """Counts ``[true, predicted]`` summed over seeds."""
        return np.sum([np.asarray(m["confusion"]) for m in self.metrics], axis=0)

    @property
    def recall(self) -> np.ndarray:
        """Per-class recall, one row per seed."""
        return np.array([[m["per_class"][c]["recall"] for c in self.classes] for m in self.metrics])

    @property
    def num_parameters(self) -> int | None:
        return self.runs[0].result["model"].get("num_parameters") if self.runs else None

    @property
    def train_seconds(self) -> float | None:
        """Mean over seeds of the summed fold times (training and prediction)."""
        times = [[f.get("seconds") for f in run.result["folds"]] for run in self.runs]
        times = [sum(t) for t in times if t and None not in t]
        return float(np.mean(times)) if times else None

    @property
    def date(self) -> str:
        return max((run.result["created"][:10] for run in self.runs), default="")

    @property
    def subjects_unchecked(self) -> int:
        return sum(not run.subjects_recorded for run in self.runs)


@dataclass
class Table:
    benchmark: Benchmark
    rows: list[Row]

    @property
    def published(self) -> list[tuple[str, Reported]]:
        """(model, figure set) of every published figure set shown, each once."""
        pairs = [(row.model, reported) for row in self.rows for reported in row.published]
        return list(dict.fromkeys(pairs))


def variant_of(result: dict, facts: ModelFacts | None) -> str:
    """Model options that differ from the model's registered defaults (all of them when the
    model is not registered)."""
    defaults = facts.options if facts else {}
    changed = {k: v for k, v in result["model"]["options"].items() if defaults.get(k, object()) != v}
    return ",".join(f"{k}={v}" for k, v in sorted(changed.items())) or "default"


def recipe_of(result: dict, facts: ModelFacts | None) -> list[str] | None:
    """How the run's hyper-parameters depart from the model's published recipe."""
    if facts is None:
        return None
    hyper = {**LATER_DEFAULTS, **result["hyperparameters"]}  # a result older than a setting ran at its default
    return [f"{k} {hyper.get(k)} (recipe {v})" for k, v in facts.recipe.items() if hyper.get(k) != v]


PRETRAINING_SEED_KEYS = ("seed", "checkpoint_every")  # change a checkpoint's bits, not its recipe


def pretraining_recipe(pretraining: dict | None) -> dict | None:
    """What made a run's checkpoint, its seed left out; ``None`` where the checkpoint does not
    say (no pre-trainer recorded: a foreign file or an older result)."""
    if not pretraining or not pretraining.get("pretrainer") or not isinstance(pretraining.get("config"), dict):
        return None
    return {
        "pretrainer": pretraining["pretrainer"],
        "corpus": pretraining.get("corpus"),
        "config": {k: v for k, v in pretraining["config"].items() if k not in PRETRAINING_SEED_KEYS},
        "model_options": pretraining.get("model_options"),
    }


def configuration_of(result: dict, recipe: dict | None) -> str:
    """The id shared by runs of one configuration at every seed: the run id at seed 0, with the
    checkpoint's hash replaced by the hash of its ``recipe`` (see :func:`pretraining_recipe`)."""
    if recipe is None:
        return result_run_id(result, seed=0)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()
    stand_in = {"sha256": f"recipe:{digest}", "load": result["pretraining"].get("load")}
    return result_run_id({**result, "pretraining": stand_in}, seed=0)


def pretraining_of(result: dict) -> str:
    """The pre-training's name as the user gave it, or, for a checkpoint given by its path,
    what made it (``ma2mi on synth-macro-v2, 20 epochs``): a path names a machine's folder."""
    pretraining = result.get("pretraining")
    if not pretraining:
        return "none"
    name = str(pretraining.get("name", "checkpoint"))
    if "/" not in name or name.startswith("hf:") or not pretraining.get("pretrainer"):
        return name
    epochs = f", {pretraining['epochs']} epochs" if pretraining.get("epochs") else ""
    return f"{pretraining['pretrainer']} on {pretraining.get('corpus')}{epochs}"


def distinguish_pretrainings(rows: list[Row]) -> None:
    """Rows whose pre-trainings share a label but not a recipe get the settings that tell them
    apart appended (``, pixel_weight=0.0``)."""
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        if row.pretraining_recipe is not None:
            by_label.setdefault(row.pretraining, []).append(row)
    for group in by_label.values():
        configs = [row.pretraining_recipe["config"] for row in group]
        keys = sorted({k for c in configs for k in c if k != "epochs" and len({str(d.get(k)) for d in configs}) > 1})
        for row, config in zip(group, configs):
            row.pretraining += "".join(f", {k}={config.get(k)}" for k in keys)


def build_tables(
    runs: list[Run], models: Mapping[str, ModelFacts], dataset: str | None = None
) -> list[Table]:
    """Every benchmark's table, rows best UF1 first, published-only rows last."""
    rows: dict[tuple[Benchmark, str], Row] = {}
    for run in sorted(runs, key=lambda run: (run.result["seed"], str(run.path))):
        result = run.result
        facts = models.get(result["model"]["name"])
        whole = Benchmark(
            benchmark_of(result["dataset"]["name"]), result["dataset"]["class_set"], result["protocol"]["name"]
        )
        if dataset and dataset not in (whole.dataset, result["dataset"]["name"]):
            continue
        views = [(whole, run.metrics)] + [
            (Benchmark(whole.dataset, whole.class_set, whole.protocol, part), metrics)
            for part, metrics in sorted(run.parts.items())
        ]
        recipe = pretraining_recipe(result.get("pretraining"))
        key = configuration_of(result, recipe)  # runs that differ only in seed share it
        taken = rows.get((whole, key))
        if taken is not None and result["seed"] in taken.seeds:  # a second checkpoint of the recipe
            key = configuration_of(result, None)
        for benchmark, metrics in views:
            row = rows.setdefault(
                (benchmark, key),
                Row(
                    benchmark,
                    result["model"]["name"],
                    variant_of(result, facts),
                    pretraining_of(result),
                    recipe_of(result, facts),
                    result_run_id(result, seed=0),  # the id of its first seed's run
                    published=[r for r in (facts.reported if facts else ()) if benchmark.holds(r)],
                    pretraining_recipe=recipe,
                    inputs=result["dataset"]["name"],
                ),
            )
            row.runs.append(run)
            row.metrics.append(metrics)
    tables: dict[Benchmark, list[Row]] = {}
    for (benchmark, _), row in rows.items():
        tables.setdefault(benchmark, []).append(row)
    for model, facts in sorted(models.items()):  # published figures that no run reproduces
        for reported in facts.reported:
            if dataset and reported.dataset != dataset:
                continue
            benchmark = Benchmark(reported.dataset, reported.class_set, reported.protocol, reported.part)
            table = tables.setdefault(benchmark, [])
            if any(row.model == model and row.reproduced for row in table):
                continue
            row = next((r for r in table if r.model == model), None)
            if row is None:
                row = Row(benchmark, model, "published only", "", [], "")
                table.append(row)
            row.published.append(reported)
    for table in tables.values():
        distinguish_pretrainings(table)
    built = [Table(b, sorted(tables[b], key=rank)) for b in sorted(tables, key=Benchmark.order)]
    for table in built:
        mark_ties(table)
    return built


def mark_ties(table: Table) -> None:
    """Each reproduced row's UF1 against the table's top row, by a paired permutation test over
    subjects: ``tied`` when p >= ``SIGNIFICANCE``. Rows on other clips than the top row's (or
    another class set) are not compared (``versus_top`` stays ``None``)."""
    reproduced = [row for row in table.rows if row.reproduced]
    if not reproduced:
        return
    top = reproduced[0]
    top.versus_top = {"difference": 0.0, "p_value": 1.0, "tied": True, "top": True}
    for row in reproduced[1:]:
        if row.counts.clips != top.counts.clips or row.classes != top.classes:
            continue
        observed, p_value = significance.permutation_test(row.counts, top.counts, "uf1")
        row.versus_top = {"difference": observed, "p_value": p_value, "tied": p_value >= SIGNIFICANCE, "top": False}


def rank(row: Row) -> tuple:
    """Reproduced rows by UF1 (best first), then published-only rows by their best UF1."""
    if row.reproduced:
        uf1 = row.mean("uf1")
        return (
            0,
            -(uf1 if uf1 is not None and not math.isnan(uf1) else -1),
            row.model,
            row.variant,
            row.config,
        )
    best = max((r.uf1 for r in row.published if r.uf1 is not None), default=-1)
    return (1, -best, row.model, "", "")
