"""``zoo leaderboard``: a table over the result files of a results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from leaderboard.table import ROW_KEYS, leaderboard_rows
from zoo.cli import app, console


@app.command()
def leaderboard(
    results: Path = typer.Option(Path("results"), "--results", help="Results directory."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table."),
) -> None:
    """Rank every finished run: mean and spread of UF1/UAR over seeds."""
    rows = leaderboard_rows(results, dataset)
    if rows.empty:
        console.print(f"no results in {results}")
        return
    if markdown:
        console.print(rows.to_markdown(index=False, floatfmt=".3f"), soft_wrap=True)
        return
    # columns with one value for every row go into the title, so the table fits a terminal
    shared = [c for c in ROW_KEYS if rows[c].nunique() == 1]
    title = " · ".join(str(rows[c].iloc[0]) for c in shared)
    table = Table(title=f"mer-zoo leaderboard: {title}" if title else "mer-zoo leaderboard")
    shown = [c for c in ROW_KEYS if c not in shared] + ["seeds", "UF1", "UAR", "accuracy"]
    for column in shown:
        numeric = column in ("seeds", "UF1", "UAR", "accuracy")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric)
    for _, row in rows.iterrows():
        cells = [str(row[c]) for c in shown[:-3]]
        cells += [
            f"{row['UF1']:.3f} ± {row['UF1 std']:.3f}",
            f"{row['UAR']:.3f} ± {row['UAR std']:.3f}",
            f"{row['accuracy']:.3f}",
        ]
        table.add_row(*cells)
    console.print(table)
