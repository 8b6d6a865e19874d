"""``zoo compare``: is one run (or configuration) really better than another on the same clips?"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from benchmarks.significance import by_scope
from leaderboard.compare import compare_runs, load_side
from zoo.cli import app, console


def scope_label(part: str | None, metric: str) -> str:
    return f"{part} {metric.upper()}" if part else metric.upper()


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@app.command()
def compare(
    result_a: Path = typer.Argument(..., help="Result file of A (zoo bench's results/*.json)."),
    result_b: Path = typer.Argument(..., help="Result file of B, on the same clips and classes."),
    seeds: bool = typer.Option(False, "--seeds", help="Each side: every seed of its configuration in its folder, "
                               "compared as seed-means."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
) -> None:
    """A minus B: UF1/UAR differences with paired 95 % intervals over subjects and permutation p-values."""
    report = compare_runs(load_side(result_a, seeds), load_side(result_b, seeds))
    if as_json:
        console.print_json(json.dumps(report))
        return
    sides = [f"{s['model']} on {s['dataset']}, {s['protocol']} (seeds {', '.join(map(str, s['seeds']))})"
             + (f"; differs: {', '.join(s['departures'])}" if s["departures"] else "") for s in (report["a"], report["b"])]
    table = Table(title=f"A: {sides[0]}\nB: {sides[1]}\n{report['subjects']} subjects, {report['clips']} clips",
                  title_justify="left", caption=report["test"])
    for header in ("", "A − B", "95% CI", "p"):
        table.add_column(header, justify="left" if not header else "right")
    for part, metrics in by_scope(report):
        for metric, test in metrics.items():
            low, high = test["ci"]
            table.add_row(scope_label(part, metric), f"{test['difference']:+.3f}", f"[{low:+.3f}, {high:+.3f}]",
                          _p(test["p_value"]))
    for name, value in report["recall"].items():
        table.add_row(f"recall {name}", f"{value:+.3f}", "", "")
    console.print(table)
    if "across_seeds" in report:
        console.print(seed_table(report["across_seeds"]))


def seed_table(report: dict) -> Table:
    """The differences tested over seeds: what the paired test above holds fixed."""
    table = Table(title="Across seeds (sees training noise; the paired test above does not)", title_justify="left",
                  caption=f"{report['test']}; {report['uf1']['splits']} ways to deal the seeds, so p >= "
                          f"{min(1.0, 2 / report['uf1']['splits']):.3f}")
    for header in ("", "A seeds", "B seeds", "A − B", "p"):
        table.add_column(header, justify="left" if not header else "right")
    for part, metrics in by_scope(report):
        for metric, test in metrics.items():
            table.add_row(scope_label(part, metric), " ".join(f"{v:.3f}" for v in test["a"]),
                          " ".join(f"{v:.3f}" for v in test["b"]), f"{test['difference']:+.3f}", _p(test["p_value"]))
    return table
