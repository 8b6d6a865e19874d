"""The leaderboard's plots as SVG: per row a confusion matrix and per-class recall, per
benchmark UF1 with its seed spread. Pure functions of the rows; the same rows give the same
bytes (fixed SVG ids, no date), so a rebuilt site only changes where a figure changed.

Text from result files is drawn as text (no mathtext), never interpreted.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from leaderboard.table import Row, Table

STYLE = {
    "svg.hashsalt": "mer-zoo",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
REPRODUCED, PUBLISHED = "#1f5fa8", "#c0392b"


def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return path


def label(row: Row) -> str:
    parts = [row.model] + [p for p in (row.variant, row.pretraining) if p not in ("default", "none", "")]
    return " · ".join(parts)


def confusion_plot(row: Row, path: Path) -> Path:
    """Counts summed over seeds, coloured by the share of each true class."""
    with matplotlib.rc_context(STYLE):
        matrix = row.confusion
        share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
        n = len(row.classes)
        figure = Figure(figsize=(1.2 + 0.45 * n, 1.0 + 0.45 * n))
        axes = figure.add_subplot()
        axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), count in np.ndenumerate(matrix):
            axes.text(
                j, i, str(count), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black"
            )
        axes.set_xticks(range(n), row.classes, rotation=45, ha="right")
        axes.set_yticks(range(n), row.classes)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        seeds = len(row.runs)
        axes.set_title(f"{label(row)}\n{seeds} seed{'s' if seeds > 1 else ''} pooled", fontsize=7)
        return save(figure, path)


def recall_plot(row: Row, path: Path) -> Path:
    """Mean recall of each class over seeds, with its standard deviation."""
    with matplotlib.rc_context(STYLE):
        recall = row.recall
        n = len(row.classes)
        figure = Figure(figsize=(1.2 + 0.45 * n, 2.2))
        axes = figure.add_subplot()
        axes.bar(
            range(n),
            recall.mean(0),
            yerr=recall.std(0) if len(recall) > 1 else None,
            color=REPRODUCED,
            capsize=2,
        )
        axes.set_xticks(range(n), row.classes, rotation=45, ha="right")
        axes.set_ylim(0, 1)
        axes.set_ylabel("recall")
        seeds = len(recall)
        axes.set_title(
            f"{label(row)}\nmean{' ± std' if seeds > 1 else ''} of {seeds} seed{'s' if seeds > 1 else ''}",
            fontsize=7,
        )
        return save(figure, path)


def overview_plot(table: Table, path: Path) -> Path:
    """UF1 of each row: every seed, the mean ± std, its 95 % interval, and the published UF1."""
    with matplotlib.rc_context(STYLE):
        rows = [row for row in table.rows if row.reproduced or any(r.uf1 is not None for r in row.published)]
        figure = Figure(figsize=(5.5, 0.9 + 0.32 * max(len(rows), 1)))
        axes = figure.add_subplot()
        for y, row in enumerate(rows):
            seeds = row.values("uf1")
            if seeds:
                bounds = row.intervals["uf1"]
                axes.hlines(y, bounds["low"], bounds["high"], color=REPRODUCED, linewidth=1, alpha=0.6)
                axes.scatter(seeds, [y] * len(seeds), s=12, color=REPRODUCED, alpha=0.5, linewidths=0)
                axes.errorbar(
                    row.mean("uf1"),
                    y,
                    xerr=row.std("uf1"),
                    fmt="|",
                    color=REPRODUCED,
                    markersize=10,
                    capsize=3,
                )
            published = [r.uf1 for r in row.published if r.uf1 is not None]
            if published:
                axes.scatter(
                    published, [y] * len(published), marker="D", s=18, facecolors="none", edgecolors=PUBLISHED
                )
        axes.set_yticks(range(len(rows)), [label(row) for row in rows])
        axes.invert_yaxis()
        axes.set_xlim(0, 1)
        axes.set_xlabel("UF1 (dots: seeds, bar: mean ± std, line: 95 % subject-bootstrap CI, ◇: published)")
        axes.set_title(table.benchmark.title)
        return save(figure, path)
