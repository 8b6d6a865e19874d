"""``zoo leaderboard``: a table over the result files of a results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from leaderboard.table import leaderboard_rows
from zoo.cli import app, console


@app.command()
def leaderboard(
    results: Path = typer.Option(Path("results"), "--results", help="Results directory."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table."),
) -> None:
    """Rank every finished run: mean and spread of UF1/UAR over seeds."""
    rows = leaderboard_rows(results, dataset)
    if markdown:
        console.print(rows.to_markdown(index=False) if not rows.empty else "(no results)")
        return
    table = Table(title=f"mer-zoo leaderboard ({results})")
    for column in rows.columns:
        table.add_column(str(column))
    for row in rows.itertuples(index=False):
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
