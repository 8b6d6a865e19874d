"""Hostile input, property-based: every annotation reader and the result loader either read a
file correctly or raise a ZooError naming it, never another exception, and no frame is ever
taken from outside the dataset root (path-like cells, absolute paths, symbolic links).

Frame trees are written once per module (with a "bait" folder of frames outside every root,
and links to it inside); each example only rewrites the sheet.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from unittest import mock

import pytest
from fixtures.mer_layouts import (
    CASME2_HEADER,
    CASME3_HEADER,
    MMEW_HEADER,
    SAMM_HEADER,
    write_casme2,
    write_casme3,
    write_frames,
    write_mmew,
    write_samm,
    write_sheet,
    write_smic,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from benchmarks.datasets import _tables, casme2, casme3, mmew, samm
from benchmarks.datasets.megc2019 import read_megc2019
from benchmarks.datasets.smic import read_smic
from benchmarks.records import DatasetIndex, normalize_label
from leaderboard.store import ResultFormatError, read_result
from leaderboard.check import check_result
from registry.errors import ZooError
from zoo.cli.bench import result_table

FRAMES = range(1, 7)  # every clip folder holds frames 1..6
# Examples per property: a quick pass in the default suite, thousands in all under -m slow.
# A reader example writes and reads one sheet (about 0.1 s on 2 busy cores).
EXAMPLES = [pytest.param(50, id="quick"), pytest.param(400, id="thorough", marks=pytest.mark.slow)]


def run_property(examples: int, check, **strategies) -> None:
    settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])(
        given(**strategies)(check))()

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60).map(
    lambda s: ILLEGAL_CHARACTERS_RE.sub("", s))  # what an .xlsx cell can hold
path_like = st.sampled_from(["../../bait", "../../../bait", "../../../../bait", "/etc", "/", "..", ".",
                             "~", "$HOME", "a/../../..", "LINK", "C:\\Windows", "\\\\server\\share"])
cell = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), text, path_like,
    st.datetimes(min_value=datetime(1900, 3, 1)),  # Excel has no earlier dates
    st.sampled_from(["", " ", "/", "-", "nan", "NA", "null", "inf", "-0", "1e308", "1_0", "３", "٣",
                     "x" * 32_767]),  # the longest text an .xlsx cell holds (openpyxl cuts longer ones)
    st.text(st.sampled_from("ab/.\\ \n"), min_size=300, max_size=600),  # too long for a file name
)


@dataclass(frozen=True)
class SheetLayout:
    """One sheet reader's layout: its official header, sheet name, and the cells that name an
    existing clip (subject cell -> subject key, clip names under it)."""

    read: object
    sheet: str
    header: list
    columns: dict[str, str]  # field -> header name (the reader's COLUMNS)
    subjects: dict[object, str]
    clips: dict[str, tuple[str, ...]]
    key: object  # (subject key, clip cell, onset) -> clip key
    linked: tuple[str, int] | None = None  # (clip key, frame) whose frame file links outside the root

    def column(self, field: str) -> int:
        return self.header.index(self.columns[field])


def casme2_key(subject, clip, onset):
    return f"{subject}/{clip}"


LAYOUTS = {
    "casme2": SheetLayout(casme2.read_casme2, "CASME2-coding-20140508.xlsx", CASME2_HEADER, casme2.COLUMNS,
                          {1: "sub01", "sub01": "sub01", 2: "sub02", "2": "sub02"},
                          {"sub01": ("EP01", "EP02"), "sub02": ("EP01", "EP03")}, casme2_key,
                          linked=("sub02/EP03", 2)),
    "samm": SheetLayout(samm.read_samm, "SAMM_Micro_FACS_Codes_v2.xlsx", SAMM_HEADER, samm.COLUMNS,
                        {6: "006", 7: "007", 7.0: "007"}, {"006": ("006_1_2",), "007": ("007_3_1", "007_5")},
                        casme2_key),
    "mmew": SheetLayout(mmew.read_mmew, "MMEW_Micro_Exp.xlsx", MMEW_HEADER, mmew.COLUMNS,
                        {1: "S01", "S01": "S01", "s2": "S02"},
                        {"S01": ("S01-01",), "S02": ("S02-01", "S02-02")},
                        casme2_key),
    "casme3": SheetLayout(casme3.read_casme3, "CAS(ME)3_part_A_ME_label_JpgIndex_v2.xlsx", CASME3_HEADER,
                          casme3.COLUMNS, {"spNO.1": "spNO.1", "spNO.2": "spNO.2"},
                          {"spNO.1": ("a", "b"), "spNO.2": ("a",)},
                          lambda subject, clip, onset: f"{subject}/{clip}_{onset}"),
}


def build_trees(base: Path) -> dict[str, Path]:
    """The frame folders of every layout, a bait folder outside them, and links to the bait."""
    bait = base / "bait"
    roots = {name: base / name / "root" for name in LAYOUTS}
    write_casme2(roots["casme2"], [(int(s[3:]), c, 1, 2, 6, "x") for s, cs in LAYOUTS["casme2"].clips.items()
                                   for c in cs], "cropped")
    write_samm(roots["samm"], [(int(s), c, 1, 2, 6, "x") for s, cs in LAYOUTS["samm"].clips.items()
                               for c in cs])
    write_mmew(roots["mmew"], [(s, c, 1, 2, 6, "happiness") for s, cs in LAYOUTS["mmew"].clips.items()
                               for c in cs])
    write_casme3(roots["casme3"], [(s, c, 1, 2, 6, "x") for s, cs in LAYOUTS["casme3"].clips.items()
                                   for c in cs])
    for folder in (roots["casme2"] / "Cropped" / "sub01", roots["samm"] / "SAMM" / "006",
                   roots["mmew"] / "Micro_Expression" / "happiness", roots["casme3"] / "part_A" / "spNO.1"):
        (folder / "LINK").symlink_to(bait, target_is_directory=True)  # a clip folder linked outside
    linked_frame = roots["casme2"] / "Cropped" / "sub02" / "EP03" / "reg_img2.jpg"
    linked_frame.unlink()
    linked_frame.symlink_to(bait / "2.jpg")  # one frame file linked outside
    return roots


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Holds the bait: frames outside every dataset root that a hostile cell may point at."""
    folder = tmp_path_factory.mktemp("hostile")
    write_frames(folder / "bait", FRAMES, "{}.jpg")
    return folder


@pytest.fixture(scope="module")
def trees(base):
    return build_trees(base)


@pytest.fixture(scope="module")
def megc_root(base):
    """A composite root whose SMIC part is fixed and whose sheets each example rewrites."""
    root = base / "megc"
    write_smic(root / "smic-hs", [(1, "negative", "s1_ne_01", 3)])
    write_casme2(root / "casme2", [(1, "EP02_01f", 1, 2, 6, "happiness")], "cropped")
    write_samm(root / "samm", [(6, "006_1_2", 1, 2, 6, "Anger")])
    return root


def rows_for(layout: SheetLayout):
    """Sheet rows: valid ones (naming a real clip, frames in order), valid ones with one hostile
    cell, and rows where any cell may be hostile."""
    clip_of = st.sampled_from(list(layout.subjects)).flatmap(
        lambda s: st.tuples(st.just(s), st.sampled_from(layout.clips[layout.subjects[s]])))
    valid = st.builds(
        lambda subject_clip, frames, emotion, units: {
            "subject": subject_clip[0], "clip": subject_clip[1], "onset": frames[0], "apex": frames[1],
            "offset": frames[2], "emotion": emotion, "action_units": units},
        clip_of, st.lists(st.sampled_from(FRAMES), min_size=3, max_size=3).map(sorted),
        st.sampled_from(["happiness", "Disgust ", "others"]), cell)
    one_bad = st.tuples(valid, st.sampled_from(list(layout.columns)), st.one_of(path_like, cell)).map(
        lambda row: {**row[0], row[1]: row[2]})
    wild = st.fixed_dictionaries({field: st.one_of(st.just(None), cell) for field in layout.columns}).flatmap(
        lambda hostile: valid.map(lambda row: {k: hostile[k] if hostile[k] is not None else v
                                               for k, v in row.items()}))
    return st.lists(st.one_of(valid, one_bad, wild), max_size=8)


def headers_for(layout: SheetLayout):
    """The official header; a case- and space-mangled one (still valid); one with a named
    column dropped or replaced by hostile text (invalid)."""
    named = [h for h in layout.header if h]
    mangled = [f"  {h.upper()} " if h else h for h in layout.header]
    broken = st.tuples(st.sampled_from(named), st.one_of(st.none(), text)).map(
        lambda pair: [pair[1] if h == pair[0] else h for h in layout.header])
    return st.one_of(st.just(layout.header), st.just(mangled), broken)


def sheet_lines(layout: SheetLayout, rows: list[dict]) -> list[list]:
    lines = []
    for row in rows:
        line = [None] * len(layout.header)
        for field, value in row.items():
            line[layout.column(field)] = value
        lines.append(line)
    return lines


def all_inside(paths, root: Path) -> bool:
    return all(path.resolve().is_relative_to(root.resolve()) for path in paths)


# Text pandas reads as a missing value (its documented default ``na_values``): such a cell is
# blank to the readers, as an empty one is.
PANDAS_NA = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}


def blank(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and (not value.strip() or value in PANDAS_NA))


def row_number(where: str, sheet: str) -> int:
    match = re.fullmatch(rf"{re.escape(sheet)} row (\d+)", where)
    assert match, where
    return int(match.group(1))


def check_clips(index: DatasetIndex, root: Path) -> None:
    """Frames in order, present, and inside the root."""
    for clip in index.clips:
        assert clip.onset <= clip.apex <= clip.offset and {clip.onset, clip.apex} <= set(clip.frames)
        assert all_inside([clip.frames[n] for n in {clip.onset, clip.apex, clip.offset} & set(clip.frames)],
                          root), clip


def read_recording(read, root: Path) -> tuple[DatasetIndex | None, ZooError | None, list[Path]]:
    """Read ``root``, recording every folder whose frames were listed."""
    listed = []
    real = _tables.list_frames

    def recording(folder):
        listed.append(folder)
        return real(folder)

    with mock.patch.object(_tables, "list_frames", recording):
        try:
            return read(root), None, listed
        except ZooError as exc:
            return None, exc, listed


def valid_key(layout: SheetLayout, row: dict) -> tuple[str, tuple[int, int, int]] | None:
    """The clip key and frames a row must give, if every cell of it names real things."""
    subject = layout.subjects.get(row["subject"]) if not isinstance(row["subject"], bool) else None
    numbers = tuple(row[f] for f in ("onset", "apex", "offset"))
    if (subject is None or row["clip"] not in layout.clips[subject]
            or not all(type(n) is int and n in FRAMES for n in numbers) or sorted(numbers) != list(numbers)
            or blank(row["emotion"]) or not isinstance(row["emotion"], str)):
        return None
    return layout.key(subject, row["clip"], numbers[0]), numbers


@pytest.mark.parametrize("examples", EXAMPLES)
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_sheet_readers_read_hostile_sheets_or_name_the_problem(trees, name, examples):
    layout, root = LAYOUTS[name], trees[name]

    def check(header, preamble, rows):
        table = sheet_lines(layout, rows)
        write_sheet(root / layout.sheet, header, table, preamble=preamble)
        index, error, listed = read_recording(layout.read, root)
        assert all_inside(listed, root), listed
        named = {normalize_label(h) for h in header if isinstance(h, str)}
        if not {normalize_label(h) for h in layout.columns.values()} <= named:
            assert error is not None  # missing column(s), or the sheet is unreadable as a whole
        if error is not None:
            assert layout.sheet in str(error) or str(root) in str(error), error
            return
        check_clips(index, root)
        first = len(preamble) + 2  # one-based sheet row of the first data row
        expected = {first + i for i, line in enumerate(table) if not all(blank(v) for v in line)}
        clips = {row_number(c.source_row, layout.sheet): c for c in index.clips}
        excluded = {row_number(e.row, layout.sheet): e.reason for e in index.excluded}
        assert not clips.keys() & excluded.keys() and clips.keys() | excluded.keys() == expected
        for i, row in enumerate(rows):
            wanted = valid_key(layout, row)
            if wanted is None:
                continue
            key, numbers = wanted
            got = clips.get(first + i)
            linked = layout.linked is not None and layout.linked[0] == key and layout.linked[1] in numbers
            if got is None:  # left out only as a duplicate of an earlier clip, or for a linked frame
                reason = excluded[first + i]
                assert reason.startswith(f"duplicate clip {key} ") or (
                    linked and "outside the dataset root" in reason), reason
            else:
                assert not linked
                assert (got.key, (got.onset, got.apex, got.offset)) == (key, numbers)
                assert normalize_label(got.emotion) == normalize_label(row["emotion"])

    run_property(examples, check, header=headers_for(layout),
                 preamble=st.lists(st.lists(cell, max_size=4), max_size=3), rows=rows_for(layout))


def test_link_and_dot_dot_cells_are_refused_by_name(trees):
    root = trees["casme2"]
    loop = root / "Cropped" / "sub01" / "LOOP"
    loop.symlink_to(loop)
    write_sheet(root / "CASME2-coding-20140508.xlsx", CASME2_HEADER, [
        [1, "LOOP", None, 1, 2, 6, None, "", "happiness"],
        [1, "LINK", None, 1, 2, 6, None, "", "happiness"],
        [1, "../../../bait", None, 1, 2, 6, None, "", "happiness"],
        [1, str(root.parent.parent / "bait"), None, 1, 2, 6, None, "", "happiness"],
        [2, "EP03", None, 1, 2, 6, None, "", "happiness"],  # its frame 2 links outside
        [2, "EP01", None, 1, 2, 6, None, "", "happiness"],
    ])
    index = casme2.read_casme2(root)
    assert [c.key for c in index.clips] == ["sub02/EP01"]
    reasons = [e.reason for e in index.excluded]
    assert reasons[0] == f"{loop} is a loop of symbolic links; remove it"
    assert len(reasons) == 5 and all("outside the dataset root" in r for r in reasons[1:])
    assert f"resolves to {(root.parent.parent / 'bait').resolve()}" in reasons[1]
    loop.unlink()


SMIC_NAMES = st.one_of(st.sampled_from(["s1", "s01", "S2", "s3 x", "s1_ne_01", "negative", "surprise"]),
                       st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
                               min_size=1, max_size=30).filter(lambda s: s not in (".", "..")))


@pytest.mark.parametrize("examples", EXAMPLES)
def test_smic_reads_hostile_folder_names_or_names_the_problem(base, examples):
    def check(clips):
        root = Path(tempfile.mkdtemp(dir=base))
        micro = root / "SMIC_all_raw" / "HS"
        micro.mkdir(parents=True)
        for subject, label, name, count, linked in clips:
            folder = micro / subject / "micro" / label / name
            if linked and not folder.exists():
                folder.parent.mkdir(parents=True, exist_ok=True)
                folder.symlink_to(base / "bait", target_is_directory=True)
            elif count:
                write_frames(folder, range(100, 100 + count), "image{:06d}.bmp")
        index, error, listed = read_recording(read_smic, root)
        assert all_inside(listed, root), listed
        if error is not None:
            assert str(root) in str(error), error
        else:
            check_clips(index, root)
            assert all(c.emotion in ("negative", "positive", "surprise", "x") for c in index.clips)

    labels = st.sampled_from(["negative", "positive", "surprise", "x"])
    run_property(examples, check, clips=st.lists(
        st.tuples(SMIC_NAMES, labels, SMIC_NAMES, st.integers(0, 3), st.booleans()), max_size=5))


# The composite keeps only clips of the official list: its parts name clips that are in it.
MEGC_PARTS = {"casme2": replace(LAYOUTS["casme2"], subjects={1: "sub01"}, clips={"sub01": ("EP02_01f",)}),
              "samm": replace(LAYOUTS["samm"], subjects={6: "006"}, clips={"006": ("006_1_2",)})}


@pytest.mark.parametrize("examples", EXAMPLES)
def test_megc2019_reads_hostile_part_sheets_or_names_the_problem(megc_root, examples):
    def check(casme2_rows, samm_rows):
        for name, rows in (("casme2", casme2_rows), ("samm", samm_rows)):
            layout = MEGC_PARTS[name]
            write_sheet(megc_root / name / layout.sheet, layout.header, sheet_lines(layout, rows))
        index, error, listed = read_recording(read_megc2019, megc_root)
        assert all_inside(listed, megc_root), listed
        if error is not None:  # names the composite root, or the part sheet and row
            assert str(megc_root) in str(error) or re.search(r"\.xlsx row \d+", str(error)), error
        else:
            check_clips(index, megc_root)
            assert {c.key.split("-", 1)[0] for c in index.clips} <= {"smic", "casme2", "samm"}

    run_property(examples, check, casme2_rows=rows_for(MEGC_PARTS["casme2"]),
                 samm_rows=rows_for(MEGC_PARTS["samm"]))


# The result loader: every published result, mutated (a field removed or replaced by any JSON
# value, the file truncated or prefixed with junk), or any JSON at all.
PUBLISHED = sorted(Path(__file__).parents[1].glob("leaderboard/results/*.json"))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def paths_of(value, prefix=()):
    """Every key/index path inside a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield prefix + (key,)
        yield from paths_of(inner, prefix + (key,))


@st.composite
def result_files(draw) -> bytes:
    result = json.loads(draw(st.sampled_from(PUBLISHED)).read_text())
    kind = draw(st.sampled_from(["replace", "delete", "truncate", "junk", "any"]))
    if kind == "any":
        return json.dumps({"schema": "mer-zoo/result", "schema_version": 1, **draw(
            st.dictionaries(st.sampled_from(list(result)), json_values, max_size=6))}).encode()
    if kind in ("replace", "delete"):
        path = draw(st.sampled_from(list(paths_of(result))))
        parent = result
        for key in path[:-1]:
            parent = parent[key]
        if kind == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    data = json.dumps(result).encode()
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "junk":
        return draw(st.binary(max_size=8) | st.just(b"[" * 100_000)) + data
    return data


@pytest.fixture(scope="module")
def result_path(base):
    return base / "some__result__file.json"


@pytest.mark.parametrize("examples", [pytest.param(300, id="quick"),
                                      pytest.param(3000, id="thorough", marks=pytest.mark.slow)])
def test_result_loader_reads_a_usable_result_or_names_the_file(result_path, examples):
    def check(data):
        result_path.write_bytes(data)
        try:
            result = read_result(result_path)
        except ResultFormatError as exc:
            assert str(result_path) in str(exc)
            return
        # what the leaderboard does with it: a checked run, or problems naming this file
        findings, run = check_result(result_path, result)
        assert (run is None) == bool(findings) and all(f.path == result_path for f in findings)
        result_table(result)  # `zoo bench`'s table

    run_property(examples, check, data=result_files())


def test_published_results_are_read():
    assert PUBLISHED and all(read_result(path)["run_id"] for path in PUBLISHED)
