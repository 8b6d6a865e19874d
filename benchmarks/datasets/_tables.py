"""What every reader shares: finding files, reading sheets by header name, listing frames,
errata, and turning sheet rows into checked :class:`Clip` records.

Readers differ only in layout (where the sheet and frames are, how columns are named); every
check of a row (numbers, frame order, apex imputation, missing frames, duplicates, frames
outside the dataset root) is done here once, so all datasets report problems the same way
and a bad row is excluded on its own without shifting any other row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.records import Clip, DatasetIndex, Excluded, normalize_label
from registry.errors import DataError

# Trailing frame number before an image extension: img46.jpg, reg_img46.jpg, 006_05562.jpg,
# image012345.bmp, 17.jpg.
FRAME_FILE = re.compile(r"(\d+)\.(?:jpg|jpeg|png|bmp)$", re.IGNORECASE)
HEADER_SEARCH_ROWS = 40


@dataclass(frozen=True)
class Erratum:
    """A published annotation known to be wrong, and the value that replaces it.

    ``key`` is the clip key (``subject/clip``) as the reader builds it, or ``"row N"`` for
    the sheet's row N (as sources that publish fixes by row give them); ``source`` says who
    reported the correction, so every change to an official sheet can be checked. An
    erratum is applied only to a row that is demonstrably broken as published (a frame cell
    that is not a number, or frames out of order): a row-keyed fix can then never change a
    valid annotation of another release whose rows are numbered differently.
    """

    key: str
    field: str
    value: int
    source: str


MEB = ("MEB micro-expression benchmark (Varanka et al.), github.com/tvaranka/meb "
       "meb/datasets/datasets.py @0607d7df")


def row_errata(field: str, values: Mapping[int, int], source: str) -> tuple[Erratum, ...]:
    """Errata for one field given by sheet row number (one-based, as Excel shows it)."""
    return tuple(Erratum(f"row {row}", field, value, source) for row, value in values.items())


@dataclass(frozen=True)
class SheetRow:
    """One data row of a sheet: its cells by field name, its one-based row number, and
    where it is for messages."""

    where: str
    number: int
    cells: Mapping[str, Any]


def find_file(root: Path, patterns: Iterable[str], what: str, hint: str) -> Path:
    """The first file under ``root`` (or one folder below) matching one of ``patterns``."""
    patterns = tuple(patterns)
    for pattern in patterns:
        found = sorted(root.glob(pattern)) + sorted(root.glob(f"*/{pattern}"))
        if found:
            return found[0]
    raise DataError(f"no {what} ({' or '.join(patterns)}) in {root} or its subfolders; {hint}")


def find_folder(root: Path, names: Iterable[str], what: str, hint: str) -> Path:
    """The first of ``root/name``, ``root/*/name`` or ``root`` itself (name ``.``) that exists."""
    names = tuple(names)
    for name in names:
        for candidate in [root / name, *sorted(root.glob(f"*/{name}"))]:
            if candidate.is_dir():
                return candidate
    raise DataError(f"no {what} folder ({' or '.join(names)}) in {root}; {hint}")


def read_sheet(path: Path, columns: Mapping[str, str], dataset: str) -> list[SheetRow]:
    """Rows of ``path`` with cells keyed by the field names of ``columns`` (field -> header).

    The header row is found by its content (the first row holding every header), because
    some sheets carry descriptive rows above it; columns are found by header name, never by
    position, because releases insert unnamed columns. Headers match case- and
    whitespace-insensitively ("Onset Frame" == "onset frame").
    """
    try:
        table = pd.read_excel(path, header=None, dtype=object)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise DataError(f"cannot read {path}: {exc}; re-copy the sheet from the {dataset} release") from exc
    wanted = {normalize_label(h): field for field, h in columns.items()}
    best: tuple[int, list[str]] = (0, [])
    for row_number in range(min(HEADER_SEARCH_ROWS, len(table))):
        cells = [normalize_label(c) if isinstance(c, str) else "" for c in table.iloc[row_number]]
        found = [c for c in cells if c in wanted]
        if len(set(found)) == len(wanted):
            position = {wanted[c]: i for i, c in enumerate(cells) if c in wanted}
            return [
                SheetRow(
                    where=f"{path.name} row {row_number + 2 + offset}",  # one-based, below header
                    number=row_number + 2 + offset,
                    cells={field: row[position[field]] for field in columns},
                )
                for offset, (_, row) in enumerate(table.iloc[row_number + 1 :].iterrows())
                if not all(_blank(v) for v in row)
            ]
        if len(found) > len(best[1]):
            best = (row_number, [str(c) for c in table.iloc[row_number] if isinstance(c, str)])
    missing = [h for h in columns.values() if normalize_label(h) not in {normalize_label(c) for c in best[1]}]
    seen = f" (best header candidate, row {best[0] + 1}: {', '.join(best[1])})" if best[1] else ""
    raise DataError(
        f"{path}: missing column(s) {', '.join(missing)}{seen}; use the official {dataset} sheet"
    )


def _blank(value: object) -> bool:
    return value is None or bool(pd.isna(value)) or str(value).strip() == ""


def as_int(value: object) -> int | None:
    """Integer of a sheet cell, ``None`` for blanks and text such as '/' or '-'."""
    if _blank(value):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


def as_text(value: object) -> str:
    return "" if _blank(value) else str(value).strip()


def is_dir(path: Path) -> bool:
    """``path.is_dir()``, but ``False`` for a path the file system refuses (a name longer than
    it allows, as a hostile sheet cell can make)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def outside_root(root: Path, path: Path) -> str | None:
    """Why ``path`` must not be read, or ``None``: it resolves outside the dataset ``root``
    (through '..' or an absolute path in a sheet cell, or a symbolic link).

    Frames are read only inside the root, so a sheet cell or a stray link can never make a
    benchmark read (and fingerprint, and train on) files that are not part of the dataset.
    """
    try:
        target = path.resolve()
    except RuntimeError:  # Python < 3.13 raises this for a symbolic link loop
        return f"{path} is a loop of symbolic links; remove it"
    if target.is_relative_to(root.resolve()):
        return None
    return (f"{path} resolves to {target}, outside the dataset root {root}; frames are read only "
            "inside it: fix the sheet cell, or copy (or link) the whole dataset folder instead")


def list_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> image file of one clip folder (other files are ignored)."""
    frames = {}
    for path in folder.iterdir():
        match = FRAME_FILE.search(path.name)
        if match and path.is_file():
            frames[int(match.group(1))] = path
    return frames


class IndexBuilder:
    """Collects clips, excluded rows and warnings of one reading, checking every row alike.

    ``errata`` are applied by default (``use_errata=False`` reads the sheet as published);
    each applied correction is reported as a warning naming its source.
    """

    def __init__(self, dataset: str, root: Path, errata: Iterable[Erratum] = (), use_errata: bool = True,
                 labelled: bool = True):
        self.dataset, self.root = dataset, root
        self.labelled = labelled  # False: macro corpora for pre-training keep unlabelled clips
        self.errata = {(e.key, e.field): e for e in errata} if use_errata else {}
        self.clips: list[Clip] = []
        self.excluded: list[Excluded] = []
        self.warnings: list[str] = []
        self._seen: dict[str, str] = {}

    def exclude(self, where: str, reason: str) -> None:
        self.excluded.append(Excluded(where, reason))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def add(
        self,
        where: str,
        subject: str,
        clip: str,
        emotion: str,
        folder: Path | None,
        onset: object = None,
        apex: object = None,
        offset: object = None,
        action_units: str = "",
        whole_clip: bool = False,
        sheet_row: int | None = None,
    ) -> Clip | None:
        """Check one annotated clip and keep it, or record why it is left out.

        ``whole_clip``: the dataset has no onset/offset annotation (SMIC); the clip's first
        and last frames are onset and offset. A missing apex becomes the middle frame,
        flagged ``apex_imputed`` and warned about. ``sheet_row`` lets row-keyed errata apply.
        """
        key = f"{subject}/{clip}"
        if not emotion and self.labelled:
            return self.exclude(where, "no emotion label")
        if key in self._seen:
            return self.exclude(where, f"duplicate clip {key} (first listed at {self._seen[key]})")
        self._seen[key] = where
        refused = folder is not None and outside_root(self.root, folder)
        if refused:
            return self.exclude(where, refused)
        if folder is None or not is_dir(folder):
            return self.exclude(where, f"no frame folder for {key} (looked for {folder})")
        frames = list_frames(folder)
        if not frames:
            return self.exclude(where, f"frame folder {folder} holds no images")
        values = {"onset": onset, "apex": apex, "offset": offset}
        numbers = {field: as_int(value) for field, value in values.items()}
        self._apply_errata(where, (key, f"row {sheet_row}"), values, numbers)
        if whole_clip:
            numbers["onset"], numbers["offset"] = min(frames), max(frames)
        if numbers["onset"] is None or numbers["offset"] is None:
            bad = [f"{f} {values[f]!r}" for f in ("onset", "offset") if numbers[f] is None]
            return self.exclude(where, f"{' and '.join(bad)} not a frame number; fix the sheet")
        start, end = numbers["onset"], numbers["offset"]
        apex_imputed = numbers["apex"] is None
        if apex_imputed:
            middle = (start + end) // 2
            numbers["apex"] = min(frames, key=lambda n: (abs(n - middle), n)) if frames else middle
            if not whole_clip:
                self.warn(f"{where}: apex {values['apex']!r} is not a frame number; "
                          f"using the middle frame {numbers['apex']}")
        if not start <= numbers["apex"] <= end:
            return self.exclude(
                where, f"frames out of order: onset {start}, apex {numbers['apex']}, offset {end} "
                "(need onset <= apex <= offset); fix the sheet or add an erratum")
        missing = [f"{f} {numbers[f]}" for f in ("onset", "apex") if numbers[f] not in frames]
        if missing:
            return self.exclude(where, f"missing frame(s) {', '.join(missing)} in {folder}")
        for number in (start, numbers["apex"], end):
            refused = number in frames and outside_root(self.root, frames[number])
            if refused:  # the frame file is a link to elsewhere
                return self.exclude(where, refused)
        if end not in frames:
            self.warn(f"{where}: offset frame {end} missing in {folder}")
        record = Clip(
            dataset=self.dataset, subject=subject, clip=clip, emotion=emotion,
            onset=start, apex=numbers["apex"], offset=end, frames=frames,
            action_units=action_units, apex_imputed=apex_imputed, source_row=where,
        )
        self.clips.append(record)
        return record

    def _apply_errata(self, where: str, keys: tuple[str, str], values: Mapping[str, object],
                      numbers: dict[str, int | None]) -> None:
        """Replace ``numbers`` fields by their errata, if the published row is broken."""
        fixes = [f for f in (self.errata.get((k, field)) for k in keys for field in values) if f]
        if not fixes:
            return
        published = [numbers[f] for f in ("onset", "apex", "offset")]
        broken = None in published or not published[0] <= published[1] <= published[2]
        for fix in fixes:
            if broken:
                self.warn(f"{where}: {fix.field} {values[fix.field]!r} corrected to {fix.value} "
                          f"({fix.source})")
                numbers[fix.field] = fix.value
            else:
                self.warn(f"{where}: erratum {fix.field} -> {fix.value} ({fix.source}) not applied: "
                          "the published row is consistent, so it may be another release's row")

    def build(self) -> DatasetIndex:
        if not self.clips:
            shown = "; ".join(f"{e.row}: {e.reason}" for e in self.excluded[:3])
            raise DataError(f"{self.dataset} at {self.root}: no usable clip ({shown or 'no rows'})")
        return DatasetIndex(self.dataset, self.root, tuple(self.clips), tuple(self.excluded),
                            tuple(self.warnings))

