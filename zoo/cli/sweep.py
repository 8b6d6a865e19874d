"""``zoo sweep FILE.toml``: many benchmark runs from one file, and a table of how each ended."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from leaderboard.store import read_result
from registry.errors import SweepError
from zoo.bench.sweep import describe, plan_sweep, run_sweep
from zoo.cli import app, console


@app.command()
def sweep(
    file: Path = typer.Argument(..., help="Sweep file (TOML): models, datasets, seeds, options, [bench]."),
) -> None:
    """Run every model x dataset x seed x option set of FILE; runs whose result exists are skipped."""
    plans = plan_sweep(file)
    console.print(f"{file}: {len(plans)} runs")
    table = Table(title=f"sweep {file}")
    for column in ("model", "dataset", "seed", "options", "UF1", "UAR", "status"):
        table.add_column(column, justify="right" if column in ("seed", "UF1", "UAR") else "left")
    failed = []
    for run in run_sweep(plans):
        spec = run.plan.spec
        console.print(f"{describe(spec)}: {run.status}" + (f" ({run.error})" if run.error else ""))
        metrics = read_result(run.result)["metrics"] if run.result else None
        table.add_row(
            spec.model,
            spec.dataset,
            str(spec.seed),
            ",".join(f"{k}={v}" for k, v in spec.options.items()),
            f"{metrics['uf1']:.3f}" if metrics else "",
            f"{metrics['uar']:.3f}" if metrics else "",
            run.status,
        )
        if run.error:
            failed.append(describe(spec))
    console.print(table)
    if failed:
        raise SweepError(
            f"{len(failed)} of {len(plans)} sweep runs failed: {'; '.join(failed)}; their errors are above; "
            "run the sweep again to retry them (finished runs are skipped)"
        )
