"""The benchmark runner: wires registry -> reader -> preprocessing cache -> folds -> trainer ->
metrics -> results store. It holds no model-, dataset- or protocol-specific logic.

``plan_benchmark`` checks every name and value and locates the data before anything is
written; ``run_benchmark`` then runs the folds, saving each finished fold atomically (and,
mid-fold, its training state) so an interrupted run resumes where it stopped. A run holds a
lock for its run id in its results folder: a second process on the same run is refused.
"""

from __future__ import annotations

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
from benchmarks.metrics import part_metrics, summarize
from benchmarks.preprocess import PreprocessConfig, check_inputs, prepare, provided_inputs
from benchmarks.protocols import Fold
from benchmarks.records import ClassSet, DatasetIndex
from leaderboard import store
from registry import DATASETS, MODELS, PROTOCOLS
from registry.errors import ConfigError, DataError
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import determinism_settings, explain_nondeterministic, make_deterministic
from zoo.engine.saved import save_fold_weights
from zoo.engine.trainer import (
    SELECTION_RULES,
    FoldData,
    FoldOutcome,
    TrainConfig,
    fit_predict,
    resolve_device,
)
from zoo.engine.augment import augmentation
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
    "augment",
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
    "augment": "flip-rotate-crop",
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
    save_weights: bool = False  # keep each fold's final weights beside the result
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
    inputs: dict[str, dict]  # what the model reads and what the dataset provides
    pretrained: str | None = None
    warnings: tuple[str, ...] = ()


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


def resolve_hyperparameters(
    spec: BenchSpec, fixed_size: tuple[int, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Command line > the dataset's benchmark budget > the model's published defaults.

    ``fixed_size`` (side, whose): an input side the model or the dataset cannot change; it
    wins over every layer, and an explicit ``--input-size`` that contradicts it is an error.
    """
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
    if fixed_size is not None:
        size, source = fixed_size
        given = spec.overrides.get("input_size")
        if given is not None and given != size:
            raise ConfigError(
                f"--input-size {given} contradicts {source}; drop --input-size or pass --input-size {size}"
            )
        values["input_size"], sources["input_size"] = size, source
    return values, sources


def plan_benchmark(spec: BenchSpec) -> BenchPlan:
    """Check names and values and locate the data; raise before anything is written."""
    options = model_options(spec.model, spec.options)
    DATASETS.get(spec.dataset)
    PROTOCOLS.get(spec.protocol)
    class_set = class_set_for(spec.dataset, spec.classes)
    # building the model checks option values, and tells what it reads
    wanted = create_model(spec.model, class_set.num_classes, **options).inputs
    provided = provided_inputs(spec.dataset)
    hyper, sources = resolve_hyperparameters(spec, check_inputs(spec.model, wanted, spec.dataset, provided))
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
        augment=augmentation(hyper["augment"]),
        device=spec.device,
        seed=spec.seed,
        deterministic=spec.deterministic,
    )
    if spec.checkpoint_every is not None and spec.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be auto or epochs >= 0, not {spec.checkpoint_every}")
    resolve_device(spec.device)
    flow = provided.flow or wanted.flow
    preprocess = PreprocessConfig(size=hyper["input_size"], **({"flow": flow} if flow else {}))
    warnings = ()
    if wanted.flow and provided.flow and wanted.flow != provided.flow:
        warnings = (f"model {spec.model} was published on {wanted.flow} flow; dataset {spec.dataset} "
                    f"provides {provided.flow} flow only, so that is what it reads",)
    inputs = {"model": wanted.describe(), "dataset": provided.describe()}
    root = locate(spec.dataset, spec.data_root)
    pretrained, options = pretrained_for(spec.model, options, spec.pretrained)
    return BenchPlan(
        spec, root, class_set, options, hyper, sources, train, preprocess, inputs, pretrained, warnings
    )


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
    return store.run_id(
        plan.spec.model,
        plan.options,
        plan.spec.dataset,
        fingerprint,
        plan.class_set.name,
        plan.spec.protocol,
        plan.spec.seed,
        plan.hyperparameters,
        pretraining,
        plan.train.deterministic,
    )


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
    for warning in plan.warnings:
        reporter.message(f"warning: {warning}")
    started = time.perf_counter()
    index = DATASETS.get(spec.dataset).obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    fingerprint = index.fingerprint()
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
    store.check_writable(Path(spec.out))  # after the checkpoint is known good: a refused one writes nothing
    run_id = run_id_of(plan, fingerprint, pretraining)
    held.enter_context(store.run_lock(Path(spec.out), run_id))
    if spec.deterministic:  # here too, so the result records it even if every fold is reused
        make_deterministic()
    prepared = prepare(index, plan.preprocess, cache_home(), reporter.preprocessing)
    data = FoldData(prepared.rows(keys), torch.tensor(labels), tuple(subjects))
    folds = PROTOCOLS.get(spec.protocol).obj(list(subjects), spec.seed)
    out = Path(spec.out)
    weights = store.weights_dir(store.result_file(out, spec.model, spec.dataset, run_id))
    records = []
    for number, fold in enumerate(folds, start=1):
        record = store.read_fold(out, run_id, fold.name)
        if spec.save_weights and not (weights / f"{fold.name}.safetensors").is_file():
            record = None  # finished without --save-weights: trained again to keep its weights
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
            if spec.save_weights:  # before the fold record, so a kept record always has them
                save_fold_weights(
                    weights / f"{fold.name}.safetensors",
                    outcome,
                    run_id=run_id,
                    fold=fold.name,
                    test_subjects=list(fold.test_subjects),
                    model=spec.model,
                    options=plan.options,
                    num_classes=plan.class_set.num_classes,
                )
            record = fold_record(fold, keys, labels, subjects, outcome, plan.class_set)
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
        "inputs": plan.inputs,
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
        "part_metrics": part_metrics(
            [s for r in records for s in r["samples"]],
            DATASETS.get(spec.dataset).meta.get("part_of"),
            plan.class_set.classes,
        ),
        "folds": records,
    }
    path = store.write_result(out, result)
    store.clear_partials(out, run_id)
    return path


def fold_record(
    fold: Fold,
    keys: list[str],
    labels: list[int],
    subjects: list[str],
    outcome: FoldOutcome,
    class_set: ClassSet,
) -> dict:
    samples = [
        {"clip": keys[i], "label": labels[i], "prediction": p, "probabilities": probs}
        for i, p, probs in zip(fold.test, outcome.predictions, outcome.probabilities)
    ]
    summary = summarize([s["label"] for s in samples], outcome.predictions, class_set.classes)
    return {
        "name": fold.name,
        "test_subjects": list(fold.test_subjects),
        "train_subjects": sorted({subjects[i] for i in fold.train}),
        "num_train": len(fold.train),
        "samples": samples,
        "metrics": {k: summary[k] for k in ("accuracy", "uf1", "uar")},
        "selected_epoch": outcome.selected_epoch,
        "losses": outcome.losses,
        "seconds": outcome.seconds,
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
