"""The benchmark runner: wires registry -> reader -> preprocessing cache -> folds -> trainer ->
metrics -> results store. It holds no model-, dataset- or protocol-specific logic.

``plan_benchmark`` checks every name and value and locates the data before anything is
written; ``run_benchmark`` then runs the folds, saving each finished fold atomically (and,
mid-fold, its training state) so an interrupted run resumes where it stopped. A run holds a
lock for its run id in its results folder: a second process on the same run is refused.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import torch

from benchmarks.datasets import class_set_for, locate
from benchmarks.files import cache_home
from benchmarks.metrics import summarize
from benchmarks.preprocess import PreprocessConfig, prepare
from benchmarks.protocols import Fold
from benchmarks.records import ClassSet, DatasetIndex
from leaderboard import store
from registry import DATASETS, MODELS, PROTOCOLS
from registry.errors import ConfigError, DataError
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import determinism_settings, explain_nondeterministic, make_deterministic
from zoo.engine.trainer import (
    SELECTION_RULES,
    FoldData,
    FoldOutcome,
    TrainConfig,
    fit_predict,
    resolve_device,
)
from zoo.models import count_parameters, create_model, model_options
from zoo.pretrain.checkpoints import checkpoint_file, describe_pretraining, load_pretrained, pretrained_for

# Hyper-parameters a model entry, a dataset budget or the command line may set.
HYPERPARAMETERS = (
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "lr_decay",
    "lr_decay_epochs",
    "input_size",
    "selection",
    "class_balanced",
)
FALLBACKS = {
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "optimizer": "adamw",
    "lr_decay": 1.0,
    "lr_decay_epochs": None,
    "input_size": 112,
    "selection": "last",
    "class_balanced": False,
}


@dataclass(frozen=True)
class BenchSpec:
    """What the user asked for; ``overrides`` holds only the hyper-parameters given explicitly."""

    model: str
    dataset: str = "synth"
    classes: str | None = None
    protocol: str = "loso"
    data_root: str | None = None
    seed: int = 0
    device: str = "auto"
    out: Path = Path("results")
    options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None  # checkpoint path or registered name to fine-tune from
    allow_partial: bool = False  # load only the checkpoint tensors that fit, and report the rest
    checkpoint_every: int | None = None  # epochs between mid-fold saves; 0 never; None automatic
    deterministic: bool = False  # deterministic kernels on CUDA (CPU runs are reproducible anyway)


@dataclass(frozen=True)
class BenchPlan:
    """A checked, fully resolved benchmark: every value that will be recorded."""

    spec: BenchSpec
    root: Path
    class_set: ClassSet
    options: dict[str, Any]
    hyperparameters: dict[str, Any]
    sources: dict[str, str]
    train: TrainConfig
    preprocess: PreprocessConfig
    pretrained: str | None = None


@dataclass(frozen=True)
class FoldJob:
    """Everything one fold needs, picklable so folds can run in other processes."""

    model: str
    options: dict[str, Any]
    num_classes: int
    fold: Fold
    train: FoldData
    test: FoldData
    config: TrainConfig
    pretrained: str | None = None  # checkpoint file loaded into every fold's fresh model
    allow_partial: bool = False
    checkpoint: FoldCheckpoint | None = None  # mid-fold training state


class Reporter:
    """Progress callbacks of a run; the CLI draws them, tests ignore them."""

    def message(self, text: str) -> None: ...
    def preprocessing(self, done: int, total: int) -> None: ...
    def fold_started(self, fold: Fold, number: int, total: int, epochs: int) -> None: ...
    def epoch_finished(self, fold: Fold, epoch: int, loss: float) -> None: ...
    def fold_finished(self, fold: Fold, record: dict, reused: bool) -> None: ...


def resolve_hyperparameters(spec: BenchSpec) -> tuple[dict[str, Any], dict[str, str]]:
    """Command line > the dataset's benchmark budget > the model's published defaults."""
    layers = [
        ("mer-zoo fallback", FALLBACKS),
        (f"model {spec.model} defaults", dict(MODELS.get(spec.model).defaults)),
        (f"dataset {spec.dataset} budget", dict(DATASETS.get(spec.dataset).meta.get("budget", {}))),
        ("command line", spec.overrides),
    ]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for key, value in layer.items():
            if key not in HYPERPARAMETERS:
                raise ConfigError(f"{source}: unknown hyper-parameter '{key}'")
            if value is not None or key not in values:
                values[key], sources[key] = value, source
    return values, sources


def plan_benchmark(spec: BenchSpec) -> BenchPlan:
    """Check names and values and locate the data; raise before anything is written."""
    options = model_options(spec.model, spec.options)
    DATASETS.get(spec.dataset)
    PROTOCOLS.get(spec.protocol)
    class_set = class_set_for(spec.dataset, spec.classes)
    create_model(spec.model, class_set.num_classes, **options)  # option values are checked by building
    hyper, sources = resolve_hyperparameters(spec)
    train = TrainConfig(
        epochs=hyper["epochs"],
        batch_size=hyper["batch_size"],
        lr=hyper["lr"],
        weight_decay=hyper["weight_decay"],
        optimizer=hyper["optimizer"],
        lr_decay=hyper["lr_decay"],
        lr_decay_epochs=hyper["lr_decay_epochs"],
        class_balanced=hyper["class_balanced"],
        selection=hyper["selection"],
        device=spec.device,
        seed=spec.seed,
        deterministic=spec.deterministic,
    )
    if spec.checkpoint_every is not None and spec.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be auto or epochs >= 0, not {spec.checkpoint_every}")
    resolve_device(spec.device)
    preprocess = PreprocessConfig(size=hyper["input_size"])
    root = locate(spec.dataset, spec.data_root)
    pretrained, options = pretrained_for(spec.model, options, spec.pretrained)
    return BenchPlan(spec, root, class_set, options, hyper, sources, train, preprocess, pretrained)


def select_samples(index: DatasetIndex, class_set: ClassSet) -> tuple[list[str], list[int], list[str]]:
    """Clip keys, labels and subjects of the clips the class set keeps."""
    keys, labels, subjects = [], [], []
    for clip in index.clips:
        label = class_set.label_of(clip.emotion, where=clip.source_row)
        if label is not None:
            keys.append(clip.key)
            labels.append(label)
            subjects.append(clip.subject)
    if not keys:
        raise DataError(f"class set {class_set.name} keeps no clip of {index.name} at {index.root}")
    return keys, labels, subjects


def run_id_of(plan: BenchPlan, fingerprint: str, pretraining: dict | None = None) -> str:
    identity = {
        "model": plan.spec.model,
        "options": plan.options,
        "dataset": plan.spec.dataset,
        "fingerprint": fingerprint,
        "class_set": plan.class_set.name,
        "protocol": plan.spec.protocol,
        "seed": plan.spec.seed,
        "hyperparameters": plan.hyperparameters,
    }
    if pretraining:  # only then, so run ids of runs without pre-training stay as they were
        identity["pretraining"] = {k: pretraining[k] for k in ("sha256", "load")}
    if plan.train.deterministic:  # likewise; and folds of the two kinds are never mixed
        identity["deterministic"] = True
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_fold(job: FoldJob, on_epoch: Callable[[int, float], None] | None = None) -> FoldOutcome:
    def build() -> torch.nn.Module:
        model = create_model(job.model, job.num_classes, **job.options)
        if job.pretrained:
            load_pretrained(model, Path(job.pretrained), job.allow_partial)
        return model

    with explain_nondeterministic(job.model):
        return fit_predict(build, job.train, job.test, job.config, job.num_classes, on_epoch, job.checkpoint)


def fold_seed(seed: int, number: int) -> int:
    """Each fold's own seed: independent of the order folds are run in."""
    return seed * 1000 + number


def run_benchmark(plan: BenchPlan, reporter: Reporter | None = None) -> Path:
    """Run every fold (reusing finished ones), then write the result file; return its path.

    The results folder is probed for writing before any work; the run's lock is held from
    when its id is known until its result is written.
    """
    with ExitStack() as held:
        return _run_benchmark(plan, reporter, held)


def _run_benchmark(plan: BenchPlan, reporter: Reporter | None, held: ExitStack) -> Path:
    reporter = reporter or Reporter()
    spec = plan.spec
    started = time.perf_counter()
    index = DATASETS.get(spec.dataset).obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    fingerprint = index.fingerprint()
    store.check_writable(Path(spec.out))
    pretraining = None
    if plan.pretrained:  # produce (recipe) and test-load the checkpoint before any fold runs
        checkpoint = checkpoint_file(plan.pretrained, plan.options, reporter.message)
        report = load_pretrained(
            create_model(spec.model, plan.class_set.num_classes, **plan.options),
            checkpoint,
            spec.allow_partial,
        )
        if spec.allow_partial:
            reporter.message(f"--allow-partial: {report.summary()}")
        pretraining = describe_pretraining(plan.pretrained, checkpoint, report, spec.dataset, subjects)
    run_id = run_id_of(plan, fingerprint, pretraining)
    held.enter_context(store.run_lock(Path(spec.out), run_id))
    if spec.deterministic:  # here too, so the result records it even if every fold is reused
        make_deterministic()
    prepared = prepare(index, plan.preprocess, cache_home(), reporter.preprocessing)
    data = FoldData(prepared.rows(keys), torch.tensor(labels), tuple(subjects))
    folds = PROTOCOLS.get(spec.protocol).obj(list(subjects), spec.seed)
    out = Path(spec.out)
    records = []
    for number, fold in enumerate(folds, start=1):
        record = store.read_fold(out, run_id, fold.name)
        reporter.fold_started(fold, number, len(folds), plan.train.epochs)
        if record is None:
            job = FoldJob(
                spec.model,
                plan.options,
                plan.class_set.num_classes,
                fold,
                data.subset(list(fold.train)),
                data.subset(list(fold.test)),
                replace(plan.train, seed=fold_seed(spec.seed, number)),
                pretraining and pretraining["path"],
                spec.allow_partial,
                FoldCheckpoint(store.state_file(out, run_id, fold.name), spec.checkpoint_every),
            )
            if job.checkpoint.path.exists():
                reporter.message(f"fold {fold.name}: continuing from its saved state {job.checkpoint.path}")
            outcome = run_fold(job, lambda e, loss: reporter.epoch_finished(fold, e, loss))
            record = fold_record(fold, keys, labels, outcome, plan.class_set)
            store.write_fold(out, run_id, fold.name, record)
            job.checkpoint.remove()
            reporter.fold_finished(fold, record, reused=False)
        else:
            reporter.fold_finished(fold, record, reused=True)
        records.append(record)
    y_true = [s["label"] for r in records for s in r["samples"]]
    y_pred = [s["prediction"] for r in records for s in r["samples"]]
    model = create_model(spec.model, plan.class_set.num_classes, **plan.options)
    entry = MODELS.get(spec.model)
    result = {
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - started, 1),
        "model": {
            "name": spec.model,
            "options": plan.options,
            "num_parameters": count_parameters(model),
            "citation": entry.citation,
        },
        "backbone": plan.options.get("backbone"),
        "pretraining": pretraining,
        "dataset": {
            "name": spec.dataset,
            "class_set": plan.class_set.name,
            "classes": list(plan.class_set.classes),
            "fingerprint": fingerprint,
            "num_samples": len(keys),
            "num_subjects": len(set(subjects)),
            "excluded_rows": len(index.excluded),
            "imputed_apex": sum(c.apex_imputed for c in index.clips if c.key in set(keys)),
        },
        "preprocess": asdict(plan.preprocess),
        "protocol": {"name": spec.protocol, "num_folds": len(folds)},
        "seed": spec.seed,
        "hyperparameters": plan.hyperparameters,
        "hyperparameter_sources": plan.sources,
        "training": {
            **plan.train.to_dict(),
            "seed": spec.seed,
            "selection_rule": SELECTION_RULES[plan.train.selection],
            "determinism": determinism_settings(),
        },
        "environment": environment(),
        "metrics": summarize(y_true, y_pred, plan.class_set.classes),
        "part_metrics": part_metrics(records, DATASETS.get(spec.dataset).meta.get("part_of"), plan.class_set),
        "folds": records,
    }
    path = store.write_result(out, result)
    store.clear_partials(out, run_id)
    return path


def fold_record(
    fold: Fold, keys: list[str], labels: list[int], outcome: FoldOutcome, class_set: ClassSet
) -> dict:
    samples = [
        {"clip": keys[i], "label": labels[i], "prediction": p, "probabilities": probs}
        for i, p, probs in zip(fold.test, outcome.predictions, outcome.probabilities)
    ]
    summary = summarize([s["label"] for s in samples], outcome.predictions, class_set.classes)
    return {
        "name": fold.name,
        "test_subjects": list(fold.test_subjects),
        "num_train": len(fold.train),
        "samples": samples,
        "metrics": {k: summary[k] for k in ("accuracy", "uf1", "uar")},
        "selected_epoch": outcome.selected_epoch,
        "losses": outcome.losses,
        "seconds": outcome.seconds,
    }


def part_metrics(
    records: list[dict], part_of: Callable[[str], str] | None, class_set: ClassSet
) -> dict[str, dict] | None:
    """Metrics of each part of a composite dataset (MEGC 2019 reports SMIC, CASME II and SAMM
    next to the composite); ``None`` for a single dataset."""
    if part_of is None:
        return None
    parts: dict[str, list[dict]] = {}
    for sample in (s for r in records for s in r["samples"]):
        parts.setdefault(part_of(sample["clip"]), []).append(sample)
    return {
        part: summarize([s["label"] for s in samples], [s["prediction"] for s in samples], class_set.classes)
        for part, samples in parts.items()
    }


def environment() -> dict[str, Any]:
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    try:
        revision = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {
        "mer_zoo": version("mer-zoo"),
        "git_revision": revision,
        "python": platform.python_version(),
        **{name: version(name) for name in ("torch", "timm", "numpy", "opencv-contrib-python-headless")},
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),  # CPU results are reproducible at equal thread counts
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
