"""``zoo leaderboard``: the leaderboard of the result files of one or more results directories.

Every figure shown is recomputed from the stored per-clip predictions; a file whose stored
figures, run id or subject separation its own content does not support is named and left out
(``--strict``: refused), and ``--check`` lists every such problem by file and field.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table as RichTable
from rich.text import Text

from leaderboard.check import CheckFailed, Loaded, load_runs
from leaderboard.render import LEAKS, MACRO_PRECISION, columns_of, markdown
from leaderboard.site import write_site
from leaderboard.table import Table, build_tables, registered_models
from zoo.cli import app, console, errors

DEFAULT_RESULTS = Path("leaderboard") / "results"
TERMINAL_COLUMNS = (
    "model",
    "variant",
    "pre-training",
    "inputs",
    "UF1",
    "UF1 95% CI",
    "vs top",
    "UF1 published",
    "Δ UF1",
    "seeds",
)
LEGEND_SHORT = (f"{LEAKS} chosen on the test subject, {MACRO_PRECISION} UAR is macro-precision; CI: subject "
                "bootstrap; tied: UF1 not significantly below the top row (paired permutation test, p ≥ 0.05)")


def say(text: str, to=console) -> None:
    to.print(text, markup=False, highlight=False, soft_wrap=True)


def report(loaded: Loaded, check: bool) -> None:
    """``--check``: every problem and note; otherwise one warning per file left out."""
    if check:
        for finding in loaded.failures:
            say(f"FAIL {finding}")
        for finding in loaded.notes:
            say(f"note {finding}")
        return
    problems = Counter(f.path for f in loaded.failures)
    for path, count in problems.items():
        first = next(f for f in loaded.failures if f.path == path)
        more = f" (and {count - 1} more; `zoo leaderboard --check` lists them)" if count > 1 else ""
        say(f"warning: skipped {first}{more}", errors)
    for finding in loaded.notes:
        if finding.field == "run_id":
            say(f"note: {finding}", errors)
    unrecorded = sum(f.field == "folds.train_subjects" for f in loaded.notes)
    if unrecorded:
        say(
            f"note: {unrecorded} result file(s) record no training subjects (written before mer-zoo "
            "recorded them); their subject separation is not checked",
            errors,
        )


def terminal_table(table: Table) -> RichTable:
    """The figures that fit a terminal; ``--out`` writes the rest. A model marked * departs
    from its published training recipe."""
    columns = [c for c in columns_of(table) if c.header in TERMINAL_COLUMNS]
    # a text column with one value in every row goes into the title, so the table fits a terminal
    shared = [c for c in columns[1:3] if len(table.rows) > 1 and len({c.text(r) for r in table.rows}) == 1]
    columns = [c for c in columns if c not in shared]
    title = " · ".join([table.benchmark.title] + [f"{c.header} {c.text(table.rows[0])}" for c in shared])
    differs = any(row.recipe for row in table.rows)
    caption = [LEGEND_SHORT]
    caption += ["* hyper-parameters differ from the model's published recipe"] if differs else []
    rich = RichTable(title=Text(title), title_justify="left", caption="; ".join(caption) or None)
    for column in columns:
        rich.add_column(
            column.header, justify="right" if column.sort else "left", no_wrap=column.sort is not None
        )
    for row in table.rows:
        cells = [column.text(row) for column in columns]
        cells[0] += " *" if row.recipe else ""
        rich.add_row(*map(Text, cells))
    return rich


@app.command()
def leaderboard(
    results: List[Path] = typer.Option(
        [DEFAULT_RESULTS], "--results", help="Results directory (repeat for several)."
    ),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Only this dataset."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Write LEADERBOARD.md, leaderboard.csv, index.html and plots/ here."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse to build if any result file fails its checks."
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Recompute every stored figure and id from each file's own content; exit 2 on a mismatch.",
    ),
    markdown_out: bool = typer.Option(False, "--markdown", help="Print the Markdown leaderboard."),
) -> None:
    """Rank every finished run: UF1/UAR over seeds beside the published figures."""
    loaded = load_runs(results)
    report(loaded, check)
    failed = len({f.path for f in loaded.failures})
    if check:
        if failed:
            raise CheckFailed(f"{failed} of {loaded.files} result file(s) failed the check (listed above)")
        say(f"checked {loaded.files} result file(s): every stored figure and run id matches its predictions")
        return
    if strict and failed:
        raise CheckFailed(
            f"--strict: {failed} result file(s) failed their checks (listed above); nothing written"
        )
    tables = build_tables(loaded.runs, registered_models(), dataset)
    if not loaded.runs or not tables:  # published figures alone are no leaderboard
        say(f"no results in {', '.join(map(str, results))}")
        return
    if out:
        written = write_site(out, tables, loaded)
        say(f"wrote {len(written)} files to {out} ({out / 'index.html'}, {out / 'LEADERBOARD.md'})")
    elif markdown_out:
        say(markdown(tables, Path.cwd()))
    else:
        for table in tables:
            console.print(terminal_table(table))
