"""Sweeps: many benchmark runs from one TOML file, models x datasets x seeds x option sets, all
with the same ``zoo bench`` flags. Every run is planned (checked) before the first one starts;
a run whose result exists is skipped, an interrupted one resumes, a failed one is reported and
the sweep goes on. The format is in README.md (Sweeps) and ``benchmarks/sweeps/example.toml``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from registry.errors import ConfigError, ZooError
from zoo.bench.executors import ExecutorSpec
from zoo.bench.plan import HYPERPARAMETERS, BenchPlan, BenchSpec, plan_benchmark
from zoo.bench.runner import Reporter, existing_result, run_benchmark

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

NUMBER = (int, float)
# ``[bench]`` keys: zoo bench's flags (a dash may be written as an underscore) and their types
BENCH_KEYS: dict[str, type | tuple[type, ...]] = {
    "classes": (str, int),
    "protocol": str,
    "device": str,
    "out": str,
    "pretrained": str,
    "allow_partial": bool,
    "save_weights": bool,
    "checkpoint_every": (int, str),
    "deterministic": bool,
    "epochs": int,
    "batch_size": int,
    "lr": NUMBER,
    "weight_decay": NUMBER,
    "input_size": int,
    "selection": str,
    "class_balanced": bool,
    "augment": str,
    "order": str,
    "executor": str,
    "workers": int,
    "ray_address": str,
    "cpus_per_fold": NUMBER,
    "gpus_per_fold": NUMBER,
}
TOP_KEYS = ("models", "datasets", "seeds", "options", "bench", "data_roots")


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep and how it ended: ``run``, ``skipped`` (its result existed) or ``failed``."""

    plan: BenchPlan
    status: str
    result: Path | None = None
    error: str | None = None


def read_sweep(path: Path) -> list[BenchSpec]:
    """The runs of the sweep file ``path``; raise :class:`ConfigError` naming the file and key."""
    try:
        table = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the sweep file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc

    def wrong(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{path}: {key}: {problem}")

    for key in table:
        if key not in TOP_KEYS:
            raise wrong(key, f"unknown key; a sweep file has {', '.join(TOP_KEYS)}")

    def names(key: str, kind: type, default: list | None = None) -> list:
        value = table.get(key, default)
        if value is None:
            raise wrong(key, f"missing; give a list, e.g. {key} = [...]")
        if not isinstance(value, list) or not value or not all(
            isinstance(v, kind) and not isinstance(v, bool) for v in value
        ):
            raise wrong(key, f"must be a non-empty list of {kind.__name__}s, not {value!r}")
        return value

    models, datasets = names("models", str), names("datasets", str, ["synth"])
    seeds, option_sets = names("seeds", int, [0]), names("options", dict, [{}])
    for number, options in enumerate(option_sets, start=1):
        for key, value in options.items():
            if not isinstance(value, (str, int, float)):
                raise wrong(f"options[{number}].{key}", f"must be a string or a number, not {value!r}")
    bench = table.get("bench", {})
    if not isinstance(bench, dict):
        raise wrong("bench", "must be a table of zoo bench flags")
    flags = {}
    for key, value in bench.items():
        name = key.replace("-", "_")
        if name not in BENCH_KEYS:
            raise wrong(f"bench.{key}", f"not a zoo bench flag a sweep sets; known: {', '.join(BENCH_KEYS)}")
        kind = BENCH_KEYS[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise wrong(f"bench.{key}", f"{value!r} is not of the flag's type")
        flags[name] = value
    roots = table.get("data_roots", {})
    if not isinstance(roots, dict) or not all(isinstance(v, str) for v in roots.values()):
        raise wrong("data_roots", "must be a table of dataset = folder")
    for dataset in roots:
        if dataset not in datasets:
            raise wrong(f"data_roots.{dataset}", f"not one of the sweep's datasets ({', '.join(datasets)})")
    return [
        spec_of(model, dataset, seed, options, flags, roots.get(dataset))
        for model in models
        for dataset in datasets
        for seed in seeds
        for options in option_sets
    ]


def spec_of(model: str, dataset: str, seed: int, options: dict, flags: dict, root: str | None) -> BenchSpec:
    every = flags.get("checkpoint_every", "auto")
    return BenchSpec(
        model=model,
        dataset=dataset,
        classes=None if flags.get("classes") is None else str(flags["classes"]),
        protocol=flags.get("protocol", "loso"),
        data_root=str(Path(root).expanduser()) if root else None,
        seed=seed,
        device=flags.get("device", "auto"),
        out=Path(flags.get("out", "results")),
        options={k.replace("-", "_"): str(v) for k, v in options.items()},
        overrides={k: v for k, v in flags.items() if k in HYPERPARAMETERS},
        pretrained=flags.get("pretrained"),
        allow_partial=flags.get("allow_partial", False),
        save_weights=flags.get("save_weights", False),
        checkpoint_every=None if every == "auto" else every,
        deterministic=flags.get("deterministic", False),
        executor=ExecutorSpec(
            flags.get("executor", "auto"),
            flags.get("workers"),
            flags.get("ray_address"),
            float(flags.get("cpus_per_fold", 1.0)),
            float(flags.get("gpus_per_fold", 0.0)),
        ),
    )


def describe(spec: BenchSpec) -> str:
    options = ",".join(f"{k}={v}" for k, v in spec.options.items())
    return f"{spec.model} on {spec.dataset}, seed {spec.seed}" + (f", {options}" if options else "")


def plan_sweep(path: Path) -> list[BenchPlan]:
    """Every run of the sweep checked, before any runs: an error names the file and the run."""
    plans = []
    for spec in read_sweep(path):
        try:
            plans.append(plan_benchmark(spec))
        except ZooError as exc:
            raise ConfigError(f"{path}: run {describe(spec)}: {exc}") from exc
    return plans


def run_sweep(
    plans: list[BenchPlan], reporter: Callable[[BenchPlan], Reporter] = lambda plan: Reporter()
) -> Iterator[SweepRun]:
    """Run (or skip) each plan in turn, yielding how it ended; one failing stops no other."""
    for plan in plans:
        try:
            done = existing_result(plan)
            if done is not None:
                yield SweepRun(plan, "skipped", done)
                continue
            yield SweepRun(plan, "run", run_benchmark(plan, reporter(plan)))
        except ZooError as exc:
            yield SweepRun(plan, "failed", error=str(exc))
