"""``zoo pretrain``: pre-train on a macro-expression corpus, with progress, checkpoints and resume."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.datasets import load_dataset
from benchmarks.files import cache_home
from registry import MACRO, PRETRAINERS
from zoo.cli import app, console
from zoo.cli.bench import parse_options
from zoo.engine.trainer import resolve_device
from zoo.pretrain.ma2mi import parse_gap


@app.command()
def pretrain(
    method: str = typer.Argument(..., help="Pre-training method (zoo list pretrainers), e.g. ma2mi."),
    dataset: str = typer.Option("synth-macro", "--dataset", "-d", help="Macro corpus (zoo list macros)."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder of the corpus."),
    epochs: Optional[int] = typer.Option(None, "--epochs"),
    gap: Optional[str] = typer.Option(
        None, "--gap", help="Frames between the two frames of a pair: N or N-M."
    ),
    batch_size: Optional[int] = typer.Option(None, "--batch-size"),
    input_size: Optional[int] = typer.Option(
        None, "--input-size", help="Side of the frames in pixels (112 default; the paper's 224)."
    ),
    lr: Optional[float] = typer.Option(None, "--lr"),
    pixel_weight: Optional[float] = typer.Option(
        None, "--pixel-weight", help="Weight of the pixel loss (0: latent only)."
    ),
    seed: Optional[int] = typer.Option(None, "--seed"),
    opt: list[str] = typer.Option(
        [], "--opt", help="MIACNet option KEY=VALUE (width, backbone, diff, position)."
    ),
    exclude_eval_subjects: list[str] = typer.Option(
        [],
        "--exclude-eval-subjects",
        help="Micro dataset whose subjects (same people) are left out; repeatable.",
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output folder; an unfinished run there is resumed."
    ),
    device: str = typer.Option("auto", "--device", help="cpu, cuda or auto."),
) -> None:
    """Pre-train with METHOD on a macro corpus; checkpoints every few epochs, resumes from --out."""
    entry = PRETRAINERS.get(method)
    MACRO.get(dataset)  # like the settings below, checked before the run is announced
    settings = {
        k: v
        for k, v in dict(
            epochs=epochs,
            batch_size=batch_size,
            input_size=input_size,
            lr=lr,
            pixel_weight=pixel_weight,
            seed=seed,
            gap=parse_gap(gap) if gap else None,
        ).items()
        if v is not None
    }
    config = entry.meta["config"](**settings)
    device = resolve_device(device).type
    out = out or cache_home() / "pretrain" / f"{method}-{dataset}"
    excluded = {name: load_dataset(name).subjects for name in exclude_eval_subjects}
    model_options = entry.meta["options"](parse_options(opt))
    console.print(
        f"[bold]{method}[/] on [bold]{dataset}[/] -> {out}, model options {model_options}, "
        + ", ".join(f"{k}={v}" for k, v in asdict(config).items())
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        epochs_bar = progress.add_task("epochs", total=config.epochs)
        steps_bar = progress.add_task("steps", total=None)

        def on_epoch(epoch: int, of: int, loss: float) -> None:
            progress.update(epochs_bar, completed=epoch, description=f"epoch {epoch}/{of} (loss {loss:.4f})")
            progress.console.print(f"epoch {epoch:3d}/{of}: loss {loss:.4f}")

        path = entry.obj(
            dataset,
            out=out,
            config=config,
            model_options=model_options,
            data_root=data_root,
            exclude_subjects_of=excluded,
            progress=on_epoch,
            step_progress=lambda step, of: progress.update(steps_bar, completed=step, total=of),
            device=device,
        )
    console.print(f"checkpoint written to {path}; fine-tune with: zoo bench miacnet --pretrained {path}")
