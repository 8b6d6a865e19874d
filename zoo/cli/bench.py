"""``zoo bench``: run a model on a dataset under a protocol and write a result file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks.protocols import Fold
from zoo.bench import EXECUTORS, BenchSpec, ExecutorSpec, Reporter, plan_benchmark, run_benchmark
from leaderboard.store import read_result, weights_dir
from registry.errors import ConfigError
from zoo.engine.augment import AUGMENTATIONS
from zoo.cli import app, console


def parse_options(pairs: list[str]) -> dict[str, Any]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--opt expects KEY=VALUE, got '{pair}'")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def given(**values: Any) -> dict[str, Any]:
    """The hyper-parameters given on the command line (the rest come from the recipe)."""
    return {k: v for k, v in values.items() if v is not None}


def parse_every(value: str) -> int | None:
    """``auto`` -> None (the runner's automatic interval), else a whole number of epochs."""
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"--checkpoint-every must be auto or a number of epochs, not '{value}'") from None


class RichReporter(Reporter):
    """A bar over folds and one over the epochs of the current fold."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.folds = progress.add_task("folds", total=None)
        self.epochs = progress.add_task("epochs", total=None, visible=False)
        self.prep = None

    def message(self, text: str) -> None:
        self.progress.console.print(text)

    def preprocessing(self, done: int, total: int) -> None:
        if self.prep is None:
            self.prep = self.progress.add_task("preprocessing", total=total)
        self.progress.update(self.prep, completed=done)

    def fold_started(self, fold: Fold, number: int, total: int, epochs: int) -> None:
        self.progress.update(self.folds, total=total, description=f"fold {fold.name}")
        self.progress.reset(self.epochs, total=epochs, visible=True)

    def epoch_finished(self, fold: Fold, epoch: int, loss: float) -> None:
        self.progress.update(self.epochs, completed=epoch, description=f"epoch (loss {loss:.3f})")

    def fold_finished(self, fold: Fold, record: dict, reused: bool) -> None:
        self.progress.advance(self.folds)
        m = record["metrics"]
        note = " (reused)" if reused else f" in {record['seconds']:.0f}s"
        self.progress.console.print(
            f"fold {fold.name:>8}: n={len(record['samples']):3d}  acc {m['accuracy']:.3f}{note}"
        )


def result_table(result: dict) -> Table:
    table = Table(
        title=f"{result['model']['name']} on {result['dataset']['name']} "
        f"({result['dataset']['class_set']}, {result['protocol']['name']})"
    )
    for column in ("fold", "subjects", "n", "accuracy", "UF1", "UAR"):
        table.add_column(column, justify="right" if column not in ("fold", "subjects") else "left")
    for fold in result["folds"]:
        m = fold["metrics"]
        table.add_row(
            fold["name"],
            ",".join(fold["test_subjects"]),
            str(len(fold["samples"])),
            f"{m['accuracy']:.3f}",
            f"{m['uf1']:.3f}",
            f"{m['uar']:.3f}",
        )
    m = result["metrics"]
    table.add_section()
    table.add_row(
        "[bold]pooled[/]",
        "",
        str(m["num_samples"]),
        f"[bold]{m['accuracy']:.3f}",
        f"[bold]{m['uf1']:.3f}",
        f"[bold]{m['uar']:.3f}",
    )
    return table


# Options zoo bench and zoo train share (the recipe, the data, the model): one declaration each.
DATASET_OPTION = typer.Option("synth", "--dataset", "-d", help="Dataset (zoo list datasets).")
CLASSES_OPTION = typer.Option(None, "--classes", help="Class set, e.g. 5 or 3.")
EPOCHS_OPTION = typer.Option(None, "--epochs", help="Training epochs per fold.")
BATCH_SIZE_OPTION = typer.Option(None, "--batch-size", help="Mini-batch size.")
LR_OPTION = typer.Option(None, "--lr", help="Peak learning rate.")
WEIGHT_DECAY_OPTION = typer.Option(None, "--weight-decay")
INPUT_SIZE_OPTION = typer.Option(None, "--input-size", help="Square input size in px.")
SELECTION_OPTION = typer.Option(
    None, "--selection", help="last: last epoch; val: best epoch on training-subject validation."
)
CLASS_BALANCED_OPTION = typer.Option(
    None, "--class-balanced/--no-class-balanced", help="Inverse-frequency class weights."
)
AUGMENT_OPTION = typer.Option(
    None, "--augment", help=f"Training augmentation: {', '.join(AUGMENTATIONS)}."
)
ORDER_OPTION = typer.Option(
    None, "--order", help="Training clips per epoch: shuffled (fresh permutation) or by-class (the same "
    "batches every epoch, clips sorted by class, as a loader without shuffling over class folders)."
)
PRECISION_OPTION = typer.Option(
    None,
    "--precision",
    help="fp32 (default) or bf16: bf16 autocast (and channels-last on CPU), only where the "
    "device computes bf16 natively (CPUs with AVX512-BF16 or AMX, most CUDA GPUs).",
)
OPT_OPTION = typer.Option([], "--opt", help="Model option KEY=VALUE (repeatable).")
SEED_OPTION = typer.Option(0, "--seed")
DEVICE_OPTION = typer.Option("auto", "--device", help="cpu, cuda or auto.")
DATA_ROOT_OPTION = typer.Option(None, "--data-root", help="Folder of the dataset.")
PRETRAINED_OPTION = typer.Option(
    None,
    "--pretrained",
    help="Fine-tune from a checkpoint: a safetensors PATH, a model folder of zoo train, a NAME (zoo list checkpoints) "
    "or a Hub pre-training hf:ORG/NAME[@REVISION].",
)
ALLOW_PARTIAL_OPTION = typer.Option(
    False,
    "--allow-partial",
    help="Load only the checkpoint tensors that fit the model, and report the rest.",
)
CHECKPOINT_EVERY_OPTION = typer.Option(
    "auto",
    "--checkpoint-every",
    help="Save a fold's training state every N epochs so a re-run continues mid-fold; 0: never; "
    "auto: once 2 minutes have passed since the last save.",
)
DETERMINISTIC_OPTION = typer.Option(
    False, "--deterministic", help="Deterministic CUDA kernels (CPU runs are reproducible anyway)."
)


@app.command()
def bench(
    model: str = typer.Argument(..., help="Registered model name (zoo list models)."),
    dataset: str = DATASET_OPTION,
    classes: Optional[str] = CLASSES_OPTION,
    protocol: str = typer.Option("loso", "--protocol", help="Evaluation protocol (zoo list protocols)."),
    epochs: Optional[int] = EPOCHS_OPTION,
    batch_size: Optional[int] = BATCH_SIZE_OPTION,
    lr: Optional[float] = LR_OPTION,
    weight_decay: Optional[float] = WEIGHT_DECAY_OPTION,
    input_size: Optional[int] = INPUT_SIZE_OPTION,
    selection: Optional[str] = SELECTION_OPTION,
    class_balanced: Optional[bool] = CLASS_BALANCED_OPTION,
    augment: Optional[str] = AUGMENT_OPTION,
    order: Optional[str] = ORDER_OPTION,
    precision: Optional[str] = PRECISION_OPTION,
    opt: list[str] = OPT_OPTION,
    seed: int = SEED_OPTION,
    device: str = DEVICE_OPTION,
    data_root: Optional[Path] = DATA_ROOT_OPTION,
    out: Path = typer.Option(Path("results"), "--out", help="Results directory."),
    pretrained: Optional[str] = PRETRAINED_OPTION,
    allow_partial: bool = ALLOW_PARTIAL_OPTION,
    save_weights: bool = typer.Option(
        False,
        "--save-weights",
        help="Keep each fold's final weights (safetensors) beside the result, for zoo explain and zoo push.",
    ),
    checkpoint_every: str = CHECKPOINT_EVERY_OPTION,
    deterministic: bool = DETERMINISTIC_OPTION,
    executor: str = typer.Option(
        "auto", "--executor", help=f"Where folds run: {', '.join(EXECUTORS)} (process: this machine's cores; "
        "auto: process on a multi-core CPU, else local)."
    ),
    workers: Optional[int] = typer.Option(
        None, "--workers", help="--executor process: worker processes (default: one per core)."
    ),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", help="--executor ray: the cluster's address (default: start a local one)."
    ),
    cpus_per_fold: float = typer.Option(1.0, "--cpus-per-fold", help="--executor ray: CPUs each fold requests."),
    gpus_per_fold: float = typer.Option(0.0, "--gpus-per-fold", help="--executor ray: GPUs each fold requests."),
) -> None:
    """Benchmark MODEL on a dataset (default: the embedded synthetic one) and save the result."""
    overrides = given(
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, input_size=input_size,
        selection=selection, class_balanced=class_balanced, augment=augment, order=order, precision=precision,
    )
    spec = BenchSpec(
        model=model,
        dataset=dataset,
        classes=classes,
        protocol=protocol,
        data_root=str(data_root) if data_root else None,
        seed=seed,
        device=device,
        out=out,
        options=parse_options(opt),
        overrides=overrides,
        pretrained=pretrained,
        allow_partial=allow_partial,
        save_weights=save_weights,
        checkpoint_every=parse_every(checkpoint_every),
        deterministic=deterministic,
        executor=ExecutorSpec(executor, workers, ray_address, cpus_per_fold, gpus_per_fold),
    )
    plan = plan_benchmark(spec)
    console.print(
        f"[bold]{model}[/] on [bold]{dataset}[/] ({plan.class_set.name}, {protocol}), "
        + ", ".join(f"{k}={v}" for k, v in plan.hyperparameters.items())
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        path = run_benchmark(plan, RichReporter(progress))
    result = read_result(path)
    console.print(result_table(result))
    console.print(f"result written to {path}")
    if save_weights:
        console.print(f"fold weights written to {weights_dir(path)}")
