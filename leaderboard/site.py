"""The leaderboard site: ``LEADERBOARD.md``, ``leaderboard.csv``, a static ``index.html`` and
its plots, written by ``zoo leaderboard --out DIR``.

``index.html`` sorts and filters in the browser with inline plain JavaScript; it fetches
nothing (its Content-Security-Policy allows only its own inline script and style and
same-origin images), so it works from a file, a static host or an archive alike.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from benchmarks.files import atomic_write
from leaderboard import plots
from leaderboard.check import Loaded
from leaderboard.render import LEGEND, Column, columns_of, csv_text, link, markdown, sources, unchecked
from leaderboard.table import Row, Table, slug

PLOTS = "plots"
CONTROLS = (
    '<div id="controls"><input id="filter" type="search" placeholder="filter rows: model, variant, '
    'pre-training, …" aria-label="filter rows"> <select id="benchmark" aria-label="benchmark">'
    '<option value="">all benchmarks</option>{options}</select> <label><input type="checkbox" '
    'id="published-only" checked> published-only rows</label> <span id="shown"></span></div>'
)
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def overview_file(table: Table) -> str:
    return f"{PLOTS}/{table.benchmark.slug}.svg"


def row_id(row: Row) -> str:
    """A stable anchor: a row can be linked to (``index.html#<id>``)."""
    return f"{row.benchmark.slug}--{row.config or 'published-' + slug(row.model)}"


def row_plots(row: Row) -> dict[str, str]:
    return {kind: f"{PLOTS}/{row_id(row)}-{kind}.svg" for kind in ("confusion", "recall")}


def text(value: object) -> str:
    """HTML-escaped text, line breaks kept."""
    return "<br>".join(html.escape(line) for line in str(value).split("\n"))


def html_row(row: Row, columns: list[Column], base: Path) -> str:
    cells = []
    for column in columns:
        value = column.sort(row) if column.sort else column.text(row)
        numeric = column.sort is not None
        data = "" if value is None else html.escape(str(value), quote=True)
        cells.append(
            f'<td{" class=number" if numeric else ""} data-value="{data}">{text(column.text(row))}</td>'
        )
    files = " ".join(
        f'<a href="{html.escape(link(run.path, base))}">{run.result["seed"]}</a>' for run in row.runs
    )
    images = (
        "".join(
            f'<a href="{path}"><img src="{path}" alt="{kind} of {html.escape(row.model)}"></a>'
            for kind, path in row_plots(row).items()
        )
        if row.reproduced
        else ""
    )
    kind = "reproduced" if row.reproduced else "published"
    return (
        f'<tr id="{row_id(row)}" data-kind="{kind}">'
        + "".join(cells)
        + f'<td data-value="">{files}</td><td class="plots" data-value="">{images}</td></tr>'
    )


def html_table(table: Table, base: Path) -> str:
    columns = columns_of(table)
    headers = "".join(
        f'<th scope="col" data-type="{"number" if c.sort else "text"}"><button type="button">'
        f"{html.escape(c.header)}</button></th>"
        for c in columns
    )
    notes = [note for note in sources(table) + [unchecked(table)] if note]
    slug = table.benchmark.slug
    return "\n".join(
        [
            f'<section class="benchmark" id="{slug}" data-benchmark="{slug}">',
            f"<h2>{html.escape(table.benchmark.title)}</h2>",
            f'<img class="overview" src="{overview_file(table)}" alt="UF1 per model, {html.escape(table.benchmark.title)}">',
            f'<table><thead><tr>{headers}<th scope="col">results</th><th scope="col">plots</th></tr></thead><tbody>',
            *(html_row(row, columns, base) for row in table.rows),
            "</tbody></table>",
            "<ul class=notes>" + "".join(f"<li>{text(note)}</li>" for note in notes) + "</ul>"
            if notes
            else "",
            "</section>",
        ]
    )


def index_html(tables: list[Table], base: Path, loaded: Loaded) -> str:
    asset = resources.files("leaderboard").joinpath("assets")
    options = "".join(
        f'<option value="{t.benchmark.slug}">{html.escape(t.benchmark.title)}</option>' for t in tables
    )
    skipped = len({f.path for f in loaded.failures})
    built = f"Built by <code>zoo leaderboard --out</code> from {len(loaded.runs)} checked result files"
    if skipped:
        built += (
            f"; {skipped} file(s) failed the checks and are not shown (<code>zoo leaderboard --check</code>)"
        )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>mer-zoo leaderboard</title>",
            f"<style>{asset.joinpath('board.css').read_text(encoding='utf-8')}</style>",
            "</head><body>",
            "<h1>mer-zoo leaderboard</h1>",
            f'<p class="legend">{text(LEGEND)}</p>',
            f"<p>{built}.</p>",
            CONTROLS.format(options=options),
            *(html_table(table, base) for table in tables),
            f"<script>{asset.joinpath('board.js').read_text(encoding='utf-8')}</script>",
            "</body></html>",
            "",
        ]
    )


def publish(path: Path, content: str) -> None:
    path.write_text(content, encoding="utf-8")
    path.chmod(0o644)  # a page to serve, not a private temporary file


def write_site(out: Path, tables: list[Table], loaded: Loaded) -> list[Path]:
    """Write the site under ``out``; the SVGs of ``out/plots/`` are replaced, so no plot of a row
    that is gone stays behind. Returns the files written."""
    out = Path(out)
    for old in (out / PLOTS).glob("*.svg"):
        old.unlink()
    written = []
    for table in tables:
        written.append(plots.overview_plot(table, out / overview_file(table)))
        for row in (r for r in table.rows if r.reproduced):
            files = row_plots(row)
            written.append(plots.confusion_plot(row, out / files["confusion"]))
            written.append(plots.recall_plot(row, out / files["recall"]))
    pages = {
        "LEADERBOARD.md": markdown(tables, out, overview_file),
        "leaderboard.csv": csv_text(tables, out),
        "index.html": index_html(tables, out, loaded),
    }
    for name, content in pages.items():
        written.append(atomic_write(out / name, lambda path, content=content: publish(path, content)))
    return written
