"""``zoo data inspect`` and ``zoo data prepare``: check a dataset copy, build its cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks.datasets import class_set_for, load_dataset
from benchmarks.files import cache_home
from benchmarks.inspection import inspect_index
from benchmarks.preprocess import CROP_METHODS, FLOW_METHODS, PreprocessConfig, prepare
from zoo.cli import app, console

data_app = typer.Typer(help="Inspect dataset copies and build their preprocessing cache.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")

ROOT = typer.Option(None, "--root", "--data-root",
                    help="Folder of the dataset (default: $ZOO_DATA_ROOT/<dataset>).")
ERRATA = typer.Option(True, "--errata/--no-errata",
                      help="Apply the registered corrections to the published sheet.")


@data_app.command("inspect")
def inspect_command(
    dataset: str = typer.Argument(..., help="Registered dataset name (see `zoo list datasets`)."),
    root: Optional[Path] = ROOT,
    classes: Optional[str] = typer.Option(None, "--classes", help="Class set, e.g. 5 or casme2-5."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    errata: bool = ERRATA,
) -> None:
    """Samples per class and subject, imputed apexes, excluded rows, missing frames, warnings."""
    class_set = class_set_for(dataset, classes)
    report = inspect_index(load_dataset(dataset, root, errata=errata), class_set, dataset)
    if as_json:
        typer.echo(json.dumps(report, indent=1))
        return
    console.print(f"[bold]{dataset}[/] at {report['root']}, class set {report['class_set']}: "
                  f"{report['num_samples']} samples from {report['num_subjects']} subjects, "
                  f"{report['imputed_apex']} imputed apex(es)")
    counts = Table("class", "samples", "reference")
    for name, count in report["classes"].items():
        counts.add_row(name, str(count), str(class_set.reference_counts.get(name, "-")))
    console.print(counts)
    console.print("per subject: " + ", ".join(f"{s} {n}" for s, n in report["subjects"].items()))
    for title, rows, columns in (
        ("errata applied by default", report["errata"], ("key", "field", "value", "source")),
        ("excluded rows", report["excluded"], ("row", "reason")),
        ("missing frames", report["missing_frames"], ("row", "reason")),
    ):
        if rows:
            table = Table(*columns, title=f"{title} ({len(rows)})")
            for row in rows:
                table.add_row(*(str(row[c]) for c in columns))
            console.print(table)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@data_app.command("prepare")
def prepare_command(
    dataset: str = typer.Argument(..., help="Registered dataset name."),
    root: Optional[Path] = ROOT,
    size: int = typer.Option(112, "--size", help="Side of the cached frames and flow."),
    flow: str = typer.Option("farneback", "--flow", help=f"One of: {', '.join(FLOW_METHODS)}."),
    flow_size: int = typer.Option(128, "--flow-size", help="Side of the frames flow is computed on."),
    crop: str = typer.Option("none", "--crop", help=f"One of: {', '.join(CROP_METHODS)}."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: all cores)."),
    errata: bool = ERRATA,
) -> None:
    """Build the preprocessing cache every model and fold reuses (once per config)."""
    config = PreprocessConfig(size=size, flow=flow, flow_size=flow_size, crop=crop)
    index = load_dataset(dataset, root, errata=errata)
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"preparing {dataset}", total=len(index.clips))
        prepared = prepare(index, config, cache_home(), lambda done, total: progress.update(
            task, completed=done, total=total), workers=workers)
    missed = int((1 - prepared.tensors["face_found"].float()).sum())
    note = f"; no face found in {missed} clip(s), whole frame used" if missed else ""
    console.print(f"{len(prepared.keys)} clips ready in {time.perf_counter() - started:.1f}s: "
                  f"{prepared.path}{note}", highlight=False)
