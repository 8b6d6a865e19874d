"""``zoo leaderboard``: golden Markdown/CSV of a seeded fixture set, ``--check`` against
tampered and leaking results, and bad input named and skipped (refused with ``--strict``).

The golden files ``tests/golden/leaderboard/`` are the site of :func:`fixture_results`;
after an intended change of the output, regenerate them with
``ZOO_UPDATE_GOLDEN=1 pytest tests/test_leaderboard.py -k golden`` and review the diff.
"""

import dataclasses
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from fixtures.results import FIXTURE_MODELS, make_result, write_fixture_results
from leaderboard.check import load_runs
from leaderboard.render import csv_text, markdown
from leaderboard.site import index_html, overview_file, write_site
from leaderboard.store import write_result
from leaderboard.table import build_tables, registered_models
from registry.reported import Reported
from zoo.cli import main

GOLDEN = Path(__file__).parent / "golden" / "leaderboard"
PUBLISHED = Path(__file__).parent.parent / "leaderboard" / "results"
(FLOW,) = PUBLISHED.glob("flow_resnet18__synth__*.json")  # the one published flow_resnet18 run


def zoo(monkeypatch, capsys, *args):
    """Run the ``zoo`` command in this process: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["zoo", *map(str, args)])
    with pytest.raises(SystemExit) as exit:
        main()
    captured = capsys.readouterr()
    return exit.value.code, captured.out, captured.err


def test_golden_markdown_and_csv(tmp_path):
    write_fixture_results(tmp_path / "results")
    loaded = load_runs([tmp_path / "results"])
    assert not loaded.failures
    write_site(tmp_path / "site", build_tables(loaded.runs, FIXTURE_MODELS), loaded)
    for name in ("LEADERBOARD.md", "leaderboard.csv"):
        produced = (tmp_path / "site" / name).read_text(encoding="utf-8")
        if os.environ.get("ZOO_UPDATE_GOLDEN"):
            GOLDEN.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(produced, encoding="utf-8")
        assert produced == (GOLDEN / name).read_text(encoding="utf-8"), f"{name} differs from its golden file"


def test_markup_from_result_files_is_text(tmp_path):
    write_fixture_results(tmp_path / "results")
    loaded = load_runs([tmp_path / "results"])
    write_site(tmp_path / "site", build_tables(loaded.runs, FIXTURE_MODELS), loaded)
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "tag=&lt;script&gt;alert(1)&lt;/script&gt;|*x*" in page and "<script>alert" not in page
    assert "&lt;b&gt;composite&lt;/b&gt;" in page and "<b>composite" not in page
    assert page.count("<script>") == 1  # the page's own
    text = (tmp_path / "site" / "LEADERBOARD.md").read_text(encoding="utf-8")
    assert r"tag=&lt;script&gt;alert(1)&lt;/script&gt;\|\*x\*" in text and "<script>" not in text


def test_the_published_results_pass_the_check(monkeypatch, capsys):
    status, out, _ = zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", PUBLISHED)
    assert status == 0, out
    assert f"checked {len(list(PUBLISHED.glob('*.json')))} result file(s)" in out


def test_the_committed_site_is_what_the_published_results_make():
    site = PUBLISHED.parent / "site"
    loaded = load_runs([PUBLISHED])
    tables = build_tables(loaded.runs, registered_models())
    pages = {
        "LEADERBOARD.md": markdown(tables, site, overview_file),
        "leaderboard.csv": csv_text(tables, site),
        "index.html": index_html(tables, site, loaded),
    }
    for name, page in pages.items():
        assert page == (site / name).read_text(encoding="utf-8"), (
            f"leaderboard/site/{name} is stale: run `zoo leaderboard --out leaderboard/site` and commit it"
        )
    shown = re.findall(r'src="(plots/[^"]+)"', pages["index.html"])
    # an overview per benchmark, a confusion matrix and a recall plot per reproduced row
    reproduced = sum(1 for table in tables for row in table.rows if row.runs)
    assert reproduced >= 7 and len(shown) == len(tables) + 2 * reproduced
    assert all((site / plot).is_file() for plot in shown)


def test_published_figures_come_from_the_model_registry(monkeypatch):
    from registry import MODELS

    entry = MODELS.get("flow_resnet18")
    figure = Reported(
        "synth", "casme2-5", "loso", "a test figure", uf1=0.8, uar=0.9, selection="test-subject-best"
    )
    reported = dataclasses.replace(entry, meta={**entry.meta, "reported": (figure,)})
    monkeypatch.setitem(MODELS._entries, "flow_resnet18", reported)
    (table,) = [t for t in build_tables(load_runs([PUBLISHED]).runs, registered_models())
                if t.benchmark.dataset == "synth"]
    (row,) = [row for row in table.rows if row.model == "flow_resnet18"]
    assert row.published == [figure] and row.recipe == ["epochs 15 (recipe 30)"]
    assert row.delta(figure, "uf1") == pytest.approx(0.8647182089805041 - 0.8)
    line = next(line for line in markdown([table], PUBLISHED).splitlines() if line.startswith("| flow"))
    ci = r"\\\[0\.\d{3}, 0\.\d{3}\\\]"  # Markdown escapes the brackets
    assert re.search(rf"\| 0\.865 ± 0\.000 \| {ci} \| 0\.800† \| \+0\.065† \| (top|tied \(p [\d.]+\)) "
                     rf"\| 0\.836 ± 0\.000 \| {ci} \| 0\.900† \| -0\.064† \|", line), line


def tamper_uf1(path: Path) -> tuple[str, str]:
    """Change one digit of the pooled UF1 in the file's text; (old, new) value text."""
    text = path.read_text()
    (match,) = re.finditer(r'\n  "uf1": (0\.\d+)', text)  # indent 2: the pooled metrics
    old = match.group(1)
    new = old[:4] + str((int(old[4]) + 1) % 10) + old[5:]
    path.write_text(text[: match.start(1)] + new + text[match.end(1) :])
    return old, new


def test_check_fails_on_one_changed_uf1_digit_and_the_table_refuses_the_file(tmp_path, monkeypatch, capsys):
    copy = tmp_path / FLOW.name
    shutil.copy(FLOW, copy)
    assert zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", tmp_path)[0] == 0
    old, new = tamper_uf1(copy)
    status, out, err = zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", tmp_path)
    assert status == 2
    assert f"FAIL {copy}: metrics.uf1: stored {new}, recomputed from the predictions {old}" in out
    assert "1 of 1 result file(s) failed the check" in err and len(err.strip().splitlines()) == 1
    status, out, err = zoo(monkeypatch, capsys, "leaderboard", "--results", tmp_path)
    assert status == 0 and f"warning: skipped {copy}: metrics.uf1" in err
    assert "no results in" in out and new[:5] not in out


def test_check_fails_when_a_test_subject_is_in_its_folds_training_set(tmp_path, monkeypatch, capsys):
    write_result(tmp_path, make_result("alpha", 0))
    leaking = make_result("alpha", 1)
    leaking["folds"][2]["train_subjects"].append("sub03")
    path = write_result(tmp_path, leaking)
    status, out, _ = zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", tmp_path)
    assert status == 2
    assert out.splitlines()[0] == (
        f"FAIL {path}: folds[2].train_subjects: test subject(s) sub03 of fold sub03 also trained on"
    )
    runs = load_runs([tmp_path]).runs
    assert [run.result["seed"] for run in runs] == [0]


def write_bad_inputs(folder: Path) -> dict[str, str]:
    """Damaged and unsupported result files beside a good one; name -> expected field."""
    good = write_result(folder, make_result("alpha", 0))
    text = good.read_text()
    bad = {}

    def add(name: str, content: str | bytes, field: str) -> None:
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
        bad[name] = field

    add("truncated.json", text[: len(text) // 2], "file: not readable as JSON")
    add("binary.json", b"\xff\xfe{", "file: not readable as JSON")
    newer = json.loads(text) | {"schema_version": 2}
    add("newer.json", json.dumps(newer), "schema_version: 2 is from a newer mer-zoo")
    add(
        "unknown.json", json.dumps(newer | {"schema_version": "1.0"}), "schema_version: '1.0' is not a result"
    )
    missing = json.loads(text)
    del missing["folds"]
    add("missing.json", json.dumps(missing), "folds: missing")
    wrong = json.loads(text)
    wrong["metrics"]["uf1"] = "0.99"
    add("string-uf1.json", json.dumps(wrong), "metrics.uf1: stored '0.99'")
    nested = json.loads(text)
    nested["folds"][0]["samples"][0]["prediction"] = 7
    add("out-of-range.json", json.dumps(nested), "folds: predictions do not fit the 5 classes")
    (folder / "notes.json").write_text(json.dumps({"unrelated": True}))  # not a result: passed over
    return bad


def test_bad_input_is_named_and_skipped_or_refused_with_strict(tmp_path, monkeypatch, capsys):
    bad = write_bad_inputs(tmp_path / "results")
    status, out, err = zoo(monkeypatch, capsys, "leaderboard", "--results", tmp_path / "results")
    assert status == 0 and "alpha" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == len(bad)
    for name, field in bad.items():
        assert any(f"{tmp_path / 'results' / name}: {field}" in line for line in warnings), name
    assert "notes.json" not in err
    status, _, err = zoo(
        monkeypatch,
        capsys,
        "leaderboard",
        "--strict",
        "--out",
        tmp_path / "site",
        "--results",
        tmp_path / "results",
    )
    assert status == 2 and f"--strict: {len(bad)} result file(s) failed their checks" in err.splitlines()[-1]
    assert not (tmp_path / "site").exists()


def test_the_same_run_in_two_directories_is_one_seed(tmp_path):
    write_result(tmp_path / "a", make_result("alpha", 0))
    write_result(tmp_path / "b", make_result("alpha", 0))
    write_result(tmp_path / "b", make_result("alpha", 1))
    loaded = load_runs([tmp_path / "a", tmp_path / "b"])
    (table,) = build_tables(loaded.runs, {})
    (row,) = table.rows
    assert row.seeds == [0, 1] and "the same run as" in loaded.notes[0].message


def test_seeds_form_one_row_and_other_settings_separate_rows(tmp_path):
    for seed in (0, 1):
        write_result(tmp_path, make_result("alpha", seed, skill=0.5 + 0.3 * seed))
    write_result(tmp_path, make_result("alpha", 0, hyperparameters={"lr": 0.01}))
    write_result(tmp_path, make_result("gamma", 0))
    (table,) = build_tables(load_runs([tmp_path]).runs, {})
    assert sorted((row.model, row.seeds) for row in table.rows) == [
        ("alpha", [0]),
        ("alpha", [0, 1]),
        ("gamma", [0]),
    ]
    (seeds,) = [row for row in table.rows if len(row.runs) == 2]
    uf1 = [run.metrics["uf1"] for run in seeds.runs]
    assert uf1[0] != uf1[1]
    assert (seeds.mean("uf1"), seeds.std("uf1")) == pytest.approx(
        ((uf1[0] + uf1[1]) / 2, abs(uf1[0] - uf1[1]) / 2)
    )
    assert [row.mean("uf1") for row in table.rows] == sorted(
        (row.mean("uf1") for row in table.rows), reverse=True
    )


def pretraining_record(seed: int, sha: str, name: str | None = None, corpus: str = "synth-macro-v2",
                       **config) -> dict:
    """A ``pretraining`` record as ``zoo bench --pretrained PATH`` writes it."""
    settings = {"epochs": 20, "pixel_weight": 1.0, "seed": seed, "checkpoint_every": 5, **config}
    return {
        "name": name or f"$ZOO_CACHE/pretrained/ma2mi-s{seed}/ma2mi.safetensors",
        "sha256": sha * 64, "load": {"loaded": 225, "missing": [], "unexpected": [], "mismatched": []},
        "pretrainer": "ma2mi", "corpus": corpus, "epochs": settings["epochs"],
        "config": settings, "model_options": {"width": 16},
    }


def test_runs_fine_tuned_from_their_own_seeds_checkpoint_of_one_recipe_form_one_row(tmp_path):
    for seed, sha in ((0, "a"), (1, "b"), (2, "c")):  # one recipe, pre-trained at each seed
        write_result(tmp_path, make_result("alpha", seed, pretraining=pretraining_record(seed, sha)))
    for seed, sha in ((0, "d"), (1, "e")):  # the recipe without its pixel term
        write_result(tmp_path, make_result("alpha", seed, pretraining=pretraining_record(seed, sha, pixel_weight=0.0)))
    # seed 0 fine-tuned from a second checkpoint of the first recipe: its own row, not a 2nd seed 0
    write_result(tmp_path, make_result("alpha", 0, skill=0.3, pretraining=pretraining_record(5, "f")))
    write_result(tmp_path, make_result("alpha", 0, pretraining=pretraining_record(0, "0", "ma2mi-synth-macro", "synth-macro")))
    (table,) = build_tables(load_runs([tmp_path]).runs, {})
    rows = sorted((row.pretraining, row.seeds) for row in table.rows)
    assert rows == [
        ("ma2mi on synth-macro-v2, 20 epochs, pixel_weight=0.0", [0, 1]),
        ("ma2mi on synth-macro-v2, 20 epochs, pixel_weight=1.0", [0]),
        ("ma2mi on synth-macro-v2, 20 epochs, pixel_weight=1.0", [0, 1, 2]),
        ("ma2mi-synth-macro", [0]),
    ]


def test_megc2019_flow_rows_sit_in_the_megc2019_tables_with_their_input_form(tmp_path):
    write_fixture_results(tmp_path / "results")
    tables = build_tables(load_runs([tmp_path / "results"]).runs, FIXTURE_MODELS)
    benchmarks = {(t.benchmark.dataset, t.benchmark.part) for t in tables}
    assert not any(dataset == "megc2019-flow" for dataset, _ in benchmarks)
    for part in (None, "casme2", "samm", "smic"):
        (table,) = [t for t in tables if (t.benchmark.dataset, t.benchmark.part) == ("megc2019", part)]
        by_model = {row.model: row for row in table.rows}
        assert by_model["gamma"].inputs == "megc2019-flow" and by_model["alpha"].inputs == "megc2019"
        assert by_model["gamma"].seeds == [0, 1]
        if part is None:  # gamma's paper figure of the composite beside its reproduction from flow images
            assert [r.uf1 for r in by_model["gamma"].published] == [0.72]
            assert by_model["gamma"].delta(by_model["gamma"].published[0], "uf1") == pytest.approx(
                by_model["gamma"].mean("uf1") - 0.72)
    markdown_text = markdown(tables, tmp_path)
    section = markdown_text.split("## megc2019 · megc2019-3 · loso\n")[1].split("\n## ")[0]
    header = next(line for line in section.splitlines() if line.startswith("| model"))
    assert "| pre-training | inputs | UF1 |" in header and "| gamma | default | none | megc2019-flow |" in section
    csv_rows = [line for line in csv_text(tables, tmp_path).splitlines() if ",gamma," in line and "megc2019" in line]
    assert len(csv_rows) == 4 and all(line.startswith("megc2019,megc2019-3,loso,") for line in csv_rows)
    assert all(",megc2019-flow," in line for line in csv_rows)


def test_rows_carry_subject_intervals_and_ties_with_the_top_row(tmp_path):
    write_fixture_results(tmp_path / "results")
    tables = build_tables(load_runs([tmp_path / "results"]).runs, FIXTURE_MODELS)
    (table,) = [t for t in tables if (t.benchmark.dataset, t.benchmark.part) == ("megc2019", None)]
    top, other = [row for row in table.rows if row.reproduced]
    assert top.versus_top == {"difference": 0.0, "p_value": 1.0, "tied": True, "top": True}
    assert other.versus_top["difference"] == pytest.approx(other.mean("uf1") - top.mean("uf1"), abs=0.05)
    assert other.versus_top["tied"] == (other.versus_top["p_value"] >= 0.05)
    for row in (top, other):
        low, high = row.intervals["uf1"]["low"], row.intervals["uf1"]["high"]
        assert 0 <= low <= high <= 1 and row.intervals["uf1"]["method"] in ("BCa", "percentile")
    header = csv_text(tables, tmp_path).splitlines()[0].split(",")
    assert {"uf1_ci_low", "uf1_ci_high", "uar_ci_low", "uar_ci_high", "p_vs_top", "tied_with_top"} <= set(header)


def test_check_recomputes_the_stored_intervals_and_fails_on_a_tampered_one(tmp_path, monkeypatch, capsys):
    result = make_result("alpha", 0, dataset="megc2019", options={"width": 8, "tag": ""})
    path = write_result(tmp_path, result)
    assert zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", tmp_path)[0] == 0
    stored = result["intervals"]["parts"]["smic"]["uar"]["high"]
    tampered = json.loads(path.read_text())
    tampered["intervals"]["parts"]["smic"]["uar"]["high"] = round(stored + 0.01, 6)
    path.write_text(json.dumps(tampered))
    status, out, err = zoo(monkeypatch, capsys, "leaderboard", "--check", "--results", tmp_path)
    assert status == 2
    assert f"FAIL {path}: intervals.parts.smic.uar.high: stored {round(stored + 0.01, 6)}, recomputed from the " \
           f"predictions {stored}" in out
