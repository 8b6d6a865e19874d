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


@app.command()
def bench(
    model: str = typer.Argument(..., help="Registered model name (zoo list models)."),
    dataset: str = typer.Option("synth", "--dataset", "-d", help="Dataset (zoo list datasets)."),
    classes: Optional[str] = typer.Option(None, "--classes", help="Class set, e.g. 5 or 3."),
    protocol: str = typer.Option("loso", "--protocol", help="Evaluation protocol (zoo list protocols)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs per fold."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Mini-batch size."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Peak learning rate."),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay"),
    input_size: Optional[int] = typer.Option(None, "--input-size", help="Square input size in px."),
    selection: Optional[str] = typer.Option(
        None, "--selection", help="last: last epoch; val: best epoch on training-subject validation."
    ),
    class_balanced: Optional[bool] = typer.Option(
        None, "--class-balanced/--no-class-balanced", help="Inverse-frequency class weights."
    ),
    augment: Optional[str] = typer.Option(
        None, "--augment", help=f"Training augmentation: {', '.join(AUGMENTATIONS)}."
    ),
    precision: Optional[str] = typer.Option(
        None,
        "--precision",
        help="fp32 (default) or bf16: bf16 autocast (and channels-last on CPU), only where the "
        "device computes bf16 natively (CPUs with AVX512-BF16 or AMX, most CUDA GPUs).",
    ),
    opt: list[str] = typer.Option([], "--opt", help="Model option KEY=VALUE (repeatable)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder of the dataset."),
    out: Path = typer.Option(Path("results"), "--out", help="Results directory."),
    pretrained: Optional[str] = typer.Option(
        None,
        "--pretrained",
        help="Fine-tune from a checkpoint: a safetensors PATH, a NAME (zoo list checkpoints) "
        "or a Hub pre-training hf:ORG/NAME[@REVISION].",
    ),
    allow_partial: bool = typer.Option(
        False,
        "--allow-partial",
        help="Load only the checkpoint tensors that fit the model, and report the rest.",
    ),
    save_weights: bool = typer.Option(
        False,
        "--save-weights",
        help="Keep each fold's final weights (safetensors) beside the result, for zoo explain and zoo push.",
    ),
    checkpoint_every: str = typer.Option(
        "auto",
        "--checkpoint-every",
        help="Save a fold's training state every N epochs so a re-run continues mid-fold; 0: never; "
        "auto: once 2 minutes have passed since the last save.",
    ),
    deterministic: bool = typer.Option(
        False, "--deterministic", help="Deterministic CUDA kernels (CPU runs are reproducible anyway)."
    ),
    executor: str = typer.Option(
        "local", "--executor", help=f"Where folds run: {', '.join(EXECUTORS)} (process: this machine's cores)."
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
    overrides = {
        k: v
        for k, v in dict(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            input_size=input_size,
            selection=selection,
            class_balanced=class_balanced,
            augment=augment,
            precision=precision,
        ).items()
        if v is not None
    }
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
