"""Planning a benchmark: every name and value checked, the data located and every recorded
value resolved before anything is written (``plan_benchmark``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.datasets import class_set_for, locate
from benchmarks.preprocess import PreprocessConfig, check_inputs, provided_inputs
from benchmarks.protocols import check_protocol
from benchmarks.records import ClassSet, DatasetIndex
from leaderboard import store
from registry import DATASETS, MODELS
from registry.errors import ConfigError, DataError
from registry.options import model_options
from zoo.bench.executors import ExecutorSpec
from zoo.engine.augment import augmentation
from zoo.engine.trainer import TrainConfig, check_precision, resolve_device
from zoo.models import create_model
from zoo.pretrain.checkpoints import pretrained_for

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
    "order",
    "precision",
)
BUDGET_LIMITS = ("epochs", "input_size")  # a dataset budget lowers these, never raises them
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
    "order": "shuffled",
    "precision": "fp32",
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
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)  # where folds run; not in the run id


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


def resolve_hyperparameters(
    spec: BenchSpec, fixed_size: tuple[int, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Command line > the dataset's benchmark budget > the model's published defaults.

    A budget's epochs and input size are limits: a model registered smaller (RCN at 60 px)
    keeps its own, since the budget is there to bound cost, not to raise it.

    ``fixed_size`` (side, whose): an input side the model or the dataset cannot change; it
    wins over every layer, and an explicit ``--input-size`` that contradicts it is an error.
    """
    budget = dict(DATASETS.get(spec.dataset).meta.get("budget", {}))
    layers = [
        ("mer-zoo fallback", FALLBACKS),
        (f"model {spec.model} defaults", dict(MODELS.get(spec.model).defaults)),
        (f"dataset {spec.dataset} budget", budget),
        ("command line", spec.overrides),
    ]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for key, value in layer.items():
            if key not in HYPERPARAMETERS:
                raise ConfigError(f"{source}: unknown hyper-parameter '{key}'")
            limited = layer is budget and key in BUDGET_LIMITS and None not in (value, values.get(key))
            if limited and values[key] < value:
                continue  # published below the budget's limit: kept
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
    check_protocol(spec.protocol, spec.dataset)
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
        order=hyper["order"],
        precision=hyper["precision"],
        device=spec.device,
        seed=spec.seed,
        deterministic=spec.deterministic,
    )
    if spec.checkpoint_every is not None and spec.checkpoint_every < 0:
        raise ConfigError(f"--checkpoint-every must be auto or epochs >= 0, not {spec.checkpoint_every}")
    check_precision(train.precision, resolve_device(spec.device))
    spec.executor.check()
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
