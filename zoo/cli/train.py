"""``zoo train``: one model on every subject; ``zoo predict``: its class probabilities for new clips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zoo.bench import BenchSpec, plan_benchmark
from zoo.bench.prediction import load, predict as predict_clips
from zoo.bench.training import train_model
from zoo.cli import app, console
from zoo.cli.bench import (
    ALLOW_PARTIAL_OPTION, AUGMENT_OPTION, BATCH_SIZE_OPTION, CHECKPOINT_EVERY_OPTION, CLASS_BALANCED_OPTION,
    CLASSES_OPTION, DATA_ROOT_OPTION, DATASET_OPTION, DETERMINISTIC_OPTION, DEVICE_OPTION, EPOCHS_OPTION,
    INPUT_SIZE_OPTION, LR_OPTION, OPT_OPTION, ORDER_OPTION, PRECISION_OPTION, PRETRAINED_OPTION, SEED_OPTION,
    SELECTION_OPTION, WEIGHT_DECAY_OPTION, RichReporter, given, parse_every, parse_options,
)


@app.command()
def train(
    model: str = typer.Argument(..., help="Registered model name (zoo list models)."),
    dataset: str = DATASET_OPTION,
    classes: Optional[str] = CLASSES_OPTION,
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
    out: Path = typer.Option(Path("models"), "--out", help="Folder that receives the model folder."),
    pretrained: Optional[str] = PRETRAINED_OPTION,
    allow_partial: bool = ALLOW_PARTIAL_OPTION,
    checkpoint_every: str = CHECKPOINT_EVERY_OPTION,
    deterministic: bool = DETERMINISTIC_OPTION,
) -> None:
    """Train MODEL on every subject of a dataset with its recipe; write a model folder for zoo predict and zoo push."""
    spec = BenchSpec(
        model=model, dataset=dataset, classes=classes, data_root=str(data_root) if data_root else None, seed=seed,
        device=device, out=out, options=parse_options(opt),
        overrides=given(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay, input_size=input_size,
                        selection=selection, class_balanced=class_balanced, augment=augment, order=order,
                        precision=precision),
        pretrained=pretrained, allow_partial=allow_partial, checkpoint_every=parse_every(checkpoint_every),
        deterministic=deterministic,
    )
    plan = plan_benchmark(spec)
    console.print(f"[bold]{model}[/] on every subject of [bold]{dataset}[/] ({plan.class_set.name}), "
                  + ", ".join(f"{k}={v}" for k, v in plan.hyperparameters.items()))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        folder = train_model(plan, RichReporter(progress))
    console.print(f"model written to {folder}")


@app.command()
def predict(
    checkpoint: str = typer.Argument(..., help="A model folder of zoo train, or hf:ORG/NAME[@REVISION]."),
    clip: Optional[Path] = typer.Option(None, "--clip", help="A clip folder holding onset.* and apex.* (offset.*) frames."),
    onset: Optional[Path] = typer.Option(None, "--onset", help="The clip's onset frame."),
    apex: Optional[Path] = typer.Option(None, "--apex", help="The clip's apex frame."),
    offset: Optional[Path] = typer.Option(None, "--offset", help="The clip's offset frame (models that read it)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Predict every clip of this dataset."),
    data_root: Optional[Path] = DATA_ROOT_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list: clip, subject, predicted, probabilities."),
) -> None:
    """Class probabilities and the predicted class of new clips, with the inputs computed as in training."""
    model, preprocess = load(checkpoint, console.print if not as_json else lambda text: None)
    rows = predict_clips(model, preprocess, onset=onset, apex=apex, offset=offset, clip=clip, dataset=dataset,
                         data_root=data_root)
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title=f"{checkpoint}: {len(rows)} clip(s)")
    for header in ("clip", "predicted", *preprocess.classes):
        table.add_column(header, justify="left" if header in ("clip", "predicted") else "right")
    for row in rows:
        table.add_row(row["clip"], row["predicted"], *(f"{p:.3f}" for p in row["probabilities"].values()))
    console.print(table)
