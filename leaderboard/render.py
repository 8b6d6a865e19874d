"""The leaderboard as text: the cells every format shares, then Markdown and CSV.

Cells are plain text built once (:data:`COLUMNS`); each format escapes them its own way, so
a string from a result file (a model option value such as ``<script>``) is always shown as
text. Numbers are the metrics recomputed from the stored predictions (:mod:`leaderboard.check`).
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from leaderboard.table import Row, Table
from registry.reported import SELECTIONS, UAR_KINDS, Reported

LEAKS, MACRO_PRECISION = "†", "‡"
LEGEND = (
    "UF1 / UAR / accuracy: mean ± standard deviation over seeds, recomputed from the stored per-clip "
    "predictions. Published: the figure the model's paper (or its released code) reports for the "
    "benchmark; Δ = reproduced − published. "
    f"{LEAKS} published figure of an epoch chosen on the test subject's own accuracy (leaks test "
    f'information). {MACRO_PRECISION} the paper\'s "UAR" is macro-averaged precision, not recall. '
    'Hyper-parameters: "recipe" when the run used the model\'s published recipe, else what differs '
    "(a benchmark budget such as synth's 15 epochs at 112 px differs on purpose). "
    '"published only": figures that no run here reproduces. '
    "95 % CI: bootstrap interval (BCa, 9,999 resamples, seeded) over the benchmark's subjects, each "
    "resampled with all its clips in every seed, of the metric of the seed-mean confusion counts. "
    "vs top: UF1 against the table's top row by a paired permutation test that swaps the two rows' "
    "predictions subject by subject (9,999 resamples, exact below that); tied: p ≥ 0.05, the "
    "difference is not significant at 5 %; — : other clips than the top row's, not compared. "
    "inputs: the dataset the runs read, where a benchmark's clips come in more than one form "
    "(megc2019-flow: the MEGC 2019 composite as STSTNet's released flow images)."
)


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def spread(row: Row, key: str) -> str:
    return "—" if not row.reproduced else f"{number(row.mean(key))} ± {number(row.std(key))}"


def markers(reported: Reported, key: str) -> str:
    return (LEAKS if reported.leaks_test_subject else "") + (
        MACRO_PRECISION if key == "uar" and reported.uar_is == "macro-precision" else ""
    )


def published(row: Row, key: str) -> str:
    """The published figures of a row, one line per figure set (named when there are several)."""
    several = len(row.published) > 1
    return "\n".join(
        number(getattr(r, key)) + markers(r, key) + (f" ({r.variant})" if several else "")
        for r in row.published
    )


def deltas(row: Row, key: str) -> str:
    if not row.reproduced:
        return ""
    return "\n".join(signed(row.delta(r, key)) + markers(r, key) for r in row.published)


def ci(row: Row, key: str) -> str:
    if not row.reproduced:
        return "—"
    bounds = row.intervals[key]
    return f"[{number(bounds['low'])}, {number(bounds['high'])}]"


def versus_top(row: Row) -> str:
    test = row.versus_top
    if test is None:
        return "—"
    if test["top"]:
        return "top"
    p_value = "p < 0.001" if test["p_value"] < 0.001 else f"p {test['p_value']:.3f}"
    return f"{'tied' if test['tied'] else 'below'} ({p_value})"


def parameters(count: int | None) -> str:
    if count is None:
        return "—"
    return f"{count / 1e6:.2f} M" if count >= 1e5 else f"{count / 1e3:.1f} k"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def recipe(row: Row) -> str:
    if not row.reproduced:
        return ""
    if row.recipe is None:
        return "recipe unknown"
    return "differs: " + ", ".join(row.recipe) if row.recipe else "recipe"


def first(values: list) -> float | None:
    return next((v for v in values if v is not None and not math.isnan(v)), None)


@dataclass(frozen=True)
class Column:
    """A column of every format: a header, the cell text and the value it sorts by."""

    header: str
    text: Callable[[Row], str]
    sort: Callable[[Row], float | None] | None = None  # None: sort by the text
    shown: Callable[[Table], bool] = lambda table: True  # whether a table has this column


def has_published(table: Table) -> bool:
    return bool(table.published)


def has_input_forms(table: Table) -> bool:
    """Whether some row read another dataset than the benchmark's own (another input form)."""
    return any(row.inputs not in ("", table.benchmark.dataset) for row in table.rows)


def _metric(key: str) -> list[Column]:
    name = {"uf1": "UF1", "uar": "UAR", "accuracy": "accuracy"}[key]
    columns = [Column(name, lambda row: spread(row, key), lambda row: row.mean(key))]
    if key != "accuracy":
        columns.append(
            Column(f"{name} 95% CI", lambda row: ci(row, key), lambda row: (row.intervals.get(key) or {}).get("low"))
        )
    columns.append(
        Column(
            f"{name} published",
            lambda row: published(row, key),
            lambda row: first([getattr(r, key) for r in row.published]),
            shown=has_published,
        )
    )
    if key != "accuracy":
        columns.append(
            Column(
                f"Δ {name}",
                lambda row: deltas(row, key),
                lambda row: first([row.delta(r, key) for r in row.published]),
                shown=has_published,
            )
        )
    return columns


COLUMNS = [
    Column("model", lambda row: row.model),
    Column("variant", lambda row: row.variant),
    Column("pre-training", lambda row: row.pretraining),
    Column("inputs", lambda row: row.inputs or "published", shown=has_input_forms),
    *_metric("uf1"),
    Column("vs top", versus_top, lambda row: (row.versus_top or {}).get("p_value")),
    *_metric("uar"),
    Column("accuracy", lambda row: spread(row, "accuracy"), lambda row: row.mean("accuracy")),
    Column("seeds", lambda row: str(len(row.runs)), lambda row: len(row.runs)),
    Column("parameters", lambda row: parameters(row.num_parameters), lambda row: row.num_parameters),
    Column("train time", lambda row: duration(row.train_seconds), lambda row: row.train_seconds),
    Column("hyper-parameters", lambda row: recipe(row)),
    Column("date", lambda row: row.date),
]


def columns_of(table: Table) -> list[Column]:
    """The columns of a table: those of published figures only where there are some, the
    input form only where rows differ in it."""
    return [column for column in COLUMNS if column.shown(table)]


def link(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, with forward slashes (a link that works in the site)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(base).resolve())).as_posix()


def sources(table: Table) -> list[str]:
    """One line per published figure set of a table: where it comes from and how it was chosen."""
    lines = []
    for model, reported in table.published:
        caveat = f" {reported.caveat}" if reported.caveat else ""
        lines.append(
            f"{model} ({reported.variant}): {reported.source}. Selection: "
            f"{SELECTIONS[reported.selection]}; UAR: {UAR_KINDS[reported.uar_is]}.{caveat}"
        )
    return lines


def unchecked(table: Table) -> str:
    count = sum(row.subjects_unchecked for row in table.rows)
    if not count:
        return ""
    return (
        f"{count} run(s) of this table were written before mer-zoo recorded each fold's training "
        "subjects: their subject separation is not checked (their figures are)."
    )


def md(text: str) -> str:
    """Markdown-safe table cell text: HTML and Markdown syntax shown as text."""
    text = html.escape(str(text), quote=False)
    for char in "\\`*_[]|#":
        text = text.replace(char, "\\" + char)
    return "<br>".join(line.strip() for line in text.splitlines())


def markdown(tables: list[Table], base: Path, overview: Callable[[Table], str] | None = None) -> str:
    """The whole leaderboard as Markdown; links to result files are relative to ``base``."""
    lines = ["# mer-zoo leaderboard", "", md(LEGEND), ""]
    for table in tables:
        lines += [f"## {md(table.benchmark.title)}", ""]
        if overview:
            lines += [f"![UF1 per model, {md(table.benchmark.title)}]({overview(table)})", ""]
        columns = columns_of(table)
        headers = [c.header for c in columns] + ["results"]
        lines += ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        for row in table.rows:
            cells = [md(column.text(row)) for column in columns]
            files = " ".join(f"[{run.result['seed']}]({link(run.path, base)})" for run in row.runs)
            lines.append("| " + " | ".join(cells + [files]) + " |")
        notes = sources(table) + [unchecked(table)]
        lines += [""] + [f"- {md(note)}" for note in notes if note] + [""]
    return "\n".join(lines).rstrip() + "\n"


CSV_FIELDS = [
    "dataset",
    "class_set",
    "protocol",
    "part",
    "kind",
    "model",
    "variant",
    "pretraining",
    "inputs",
    "hyperparameters",
    "config",
    "seeds",
    "uf1",
    "uf1_std",
    "uf1_ci_low",
    "uf1_ci_high",
    "uar",
    "uar_std",
    "uar_ci_low",
    "uar_ci_high",
    "p_vs_top",
    "tied_with_top",
    "accuracy",
    "accuracy_std",
    "published_variant",
    "published_uf1",
    "published_uar",
    "published_accuracy",
    "delta_uf1",
    "delta_uar",
    "published_flags",
    "published_source",
    "num_parameters",
    "train_seconds",
    "date",
    "result_files",
]


def _raw(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _flags(reported: Reported) -> str:
    flags = ["selected on the test subject"] if reported.leaks_test_subject else []
    return " & ".join(flags + (["UAR is macro-precision"] if reported.uar_is == "macro-precision" else []))


def _join(values) -> str:
    return "; ".join(values)


def csv_text(tables: list[Table], base: Path) -> str:
    """One line per row of every table; several published figure sets are joined by "; "."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for table in tables:
        for row in table.rows:
            writer.writerow(
                {
                    "dataset": table.benchmark.dataset,
                    "class_set": table.benchmark.class_set,
                    "protocol": table.benchmark.protocol,
                    "part": table.benchmark.part or "",
                    "kind": "reproduced" if row.reproduced else "published only",
                    "model": row.model,
                    "variant": row.variant,
                    "pretraining": row.pretraining,
                    "inputs": row.inputs,
                    "hyperparameters": recipe(row),
                    "config": row.config,
                    "seeds": " ".join(map(str, row.seeds)),
                    **{f"{k}": _raw(row.mean(k)) for k in ("uf1", "uar", "accuracy")},
                    **{f"{k}_std": _raw(row.std(k)) for k in ("uf1", "uar", "accuracy")},
                    **{
                        f"{k}_ci_{end}": _raw(row.intervals[k][end]) if row.reproduced else ""
                        for k in ("uf1", "uar")
                        for end in ("low", "high")
                    },
                    "p_vs_top": "" if row.versus_top is None else _raw(row.versus_top["p_value"]),
                    "tied_with_top": "" if row.versus_top is None else str(row.versus_top["tied"]).lower(),
                    "published_variant": _join(r.variant for r in row.published),
                    **{
                        f"published_{k}": _join(_raw(getattr(r, k)) for r in row.published)
                        for k in ("uf1", "uar", "accuracy")
                    },
                    **{
                        f"delta_{k}": _join(_raw(row.delta(r, k)) for r in row.published)
                        if row.reproduced
                        else ""
                        for k in ("uf1", "uar")
                    },
                    "published_flags": _join(_flags(r) for r in row.published),
                    "published_source": _join(r.source for r in row.published),
                    "num_parameters": row.num_parameters or "",
                    "train_seconds": "" if row.train_seconds is None else f"{row.train_seconds:.1f}",
                    "date": row.date,
                    "result_files": "; ".join(link(run.path, base) for run in row.runs),
                }
            )
    return out.getvalue()
