"""Readers against tiny copies of each dataset in its official layout (tests/fixtures)."""

from __future__ import annotations

import json

import pytest
from fixtures.mer_layouts import (
    write_casme2,
    write_casme3,
    write_mmew,
    write_samm,
    write_sheet,
    write_smic,
)
from typer.testing import CliRunner

from benchmarks.datasets import casme2, class_set_for, load_dataset
from benchmarks.datasets._tables import MEB, Erratum
from benchmarks.datasets.megc2019 import official_names, part_of
from benchmarks.inspection import inspect_index
from registry.errors import DataError

CASME2_ROWS = [
    (1, "EP02_01f", 1, 3, 5, "happiness"),
    (1, "EP03_02", 2, "/", 6, "disgust"),
    (2, "EP01_11f", 1, 2, 4, "Surprise "),
    (2, "EP05_01", 1, 2, 3, "fear"),
]


@pytest.mark.parametrize("layout", ["raw", "cropped", "bare"])
def test_casme2_layouts_subjects_and_apex_imputation(tmp_path, layout):
    index = casme2.read_casme2(write_casme2(tmp_path, CASME2_ROWS, layout))
    assert [c.key for c in index.clips] == ["sub01/EP02_01f", "sub01/EP03_02", "sub02/EP01_11f",
                                           "sub02/EP05_01"]
    imputed = index.clips[1]
    assert (imputed.onset, imputed.apex, imputed.offset, imputed.apex_imputed) == (2, 4, 6, True)
    assert index.warnings == (("CASME2-coding-20140508.xlsx row 3: apex '/' is not a frame number; "
                               "using the middle frame 4"),)
    suffix = "img3.jpg" if layout == "raw" else "reg_img3.jpg"
    assert index.clips[0].frame(3).name == suffix
    labels = [class_set_for("casme2", "5").label_of(c.emotion) for c in index.clips]
    assert labels == [0, 1, 3, None]  # happiness, disgust, surprise (case/space tolerant), fear left out


def test_casme2_bad_rows_are_excluded_alone_and_named(tmp_path):
    rows = [
        (1, "EP01_01", 1, 2, 3, "happiness"),
        (1, "EP01_02", 5, 9, 7, "disgust"),          # apex after offset
        (1, "EP01_01", 1, 2, 3, "surprise"),         # duplicate of row 2
        (3, "EP09_09", "x", 2, 3, "others"),         # onset not a number
        (2, "EP02_02", 1, 2, 3, "repression"),
    ]
    root = write_casme2(tmp_path, rows, "cropped")
    (root / "Cropped" / "sub03" / "EP09_09").rename(root / "Cropped" / "sub03" / "gone")
    index = casme2.read_casme2(root)
    assert [(c.key, c.emotion) for c in index.clips] == [("sub01/EP01_01", "happiness"),
                                                         ("sub02/EP02_02", "repression")]
    reasons = {e.row: e.reason for e in index.excluded}
    assert reasons["CASME2-coding-20140508.xlsx row 3"].startswith(
        "frames out of order: onset 5, apex 9, offset 7")
    assert reasons["CASME2-coding-20140508.xlsx row 4"] == (
        "duplicate clip sub01/EP01_01 (first listed at CASME2-coding-20140508.xlsx row 2)")
    assert "no frame folder for sub03/EP09_09" in reasons["CASME2-coding-20140508.xlsx row 5"]


def test_casme2_missing_frames_and_empty_folders(tmp_path):
    root = write_casme2(tmp_path, [(1, "EP01_01", 1, 2, 3, "happiness"),
                                   (1, "EP01_02", 1, 2, 3, "disgust"),
                                   (1, "EP01_03", 1, 2, 3, "others")], "raw")
    clip_dir = root / "CASME2_RAW_selected" / "sub01"
    (clip_dir / "EP01_02" / "img2.jpg").unlink()
    for frame in (clip_dir / "EP01_03").iterdir():
        frame.unlink()
    index = casme2.read_casme2(root)
    assert [c.clip for c in index.clips] == ["EP01_01"]
    report = inspect_index(index, class_set_for("casme2", "5"), "casme2")
    assert [m["row"] for m in report["missing_frames"]] == ["CASME2-coding-20140508.xlsx row 3",
                                                           "CASME2-coding-20140508.xlsx row 4"]
    assert "missing frame(s) apex 2" in report["missing_frames"][0]["reason"]
    assert "holds no images" in report["missing_frames"][1]["reason"]


def test_casme2_sheet_errors(tmp_path):
    with pytest.raises(DataError, match=r"no CASME II coding sheet \(CASME2-coding-\*.xlsx\)"):
        casme2.read_casme2(tmp_path)
    (tmp_path / "CASME2-coding-2014.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(DataError, match="cannot read .*CASME2-coding-2014.xlsx"):
        casme2.read_casme2(tmp_path)
    write_sheet(tmp_path / "CASME2-coding-2014.xlsx", ["Subject", "Filename", "OnsetFrame",
                                                       "ApexFrame", "OffsetFrame", "Action Units"], [])
    with pytest.raises(DataError, match="missing column.s. Estimated Emotion"):
        casme2.read_casme2(tmp_path)


def test_unknown_emotion_is_listed_without_shifting_other_labels(tmp_path):
    root = write_casme2(tmp_path, [(1, "EP01_01", 1, 2, 3, "happiness"),
                                   (1, "EP01_02", 1, 2, 3, "joyful"),
                                   (2, "EP01_03", 1, 2, 3, "surprise")], "cropped")
    index = casme2.read_casme2(root)
    report = inspect_index(index, class_set_for("casme2", "5"), "casme2")
    assert report["classes"] == {"happiness": 1, "disgust": 0, "repression": 0, "surprise": 1, "others": 0}
    assert report["subjects"] == {"sub01": 1, "sub02": 1}
    (bad,) = [e for e in report["excluded"] if "joyful" in e["reason"]]
    assert bad["row"] == "CASME2-coding-20140508.xlsx row 3"
    assert "class happiness: 1 samples, the official release has 32" in " ".join(report["warnings"])


def test_errata_fix_only_broken_rows_by_default_and_are_switchable(tmp_path, monkeypatch):
    root = write_casme2(tmp_path, [(1, "EP01_01", 1, 2, 4, "happiness"),
                                   (1, "EP01_02", 1, 9, 3, "disgust")], "cropped")
    fixes = (Erratum("sub01/EP01_02", "apex", 2, "test source"),
             Erratum("row 2", "offset", 3, "row source"))  # row 2 is consistent as published
    monkeypatch.setattr(casme2, "ERRATA", fixes)
    corrected = casme2.read_casme2(root)
    assert [(c.clip, c.apex, c.offset) for c in corrected.clips] == [("EP01_01", 2, 4), ("EP01_02", 2, 3)]
    assert corrected.warnings == (
        ("CASME2-coding-20140508.xlsx row 2: erratum offset -> 3 (row source) not applied: the "
         "published row is consistent, so it may be another release's row"),
        "CASME2-coding-20140508.xlsx row 3: apex 9 corrected to 2 (test source)")
    published = casme2.read_casme2(root, errata=False)
    assert [c.clip for c in published.clips] == ["EP01_01"]


def test_samm_header_found_below_description(tmp_path):
    rows = [(6, "006_1_2", 10, 12, 14, "Anger"), (6, "006_1_3", 3, 4, 5, "Others"),
            (7, "007_3_1", 1, 3, 5, "Other"), (7, "007_5_3", 1, 2, 3, "Disgust")]
    index = load_dataset("samm", write_samm(tmp_path, rows))
    assert [c.key for c in index.clips] == ["006/006_1_2", "006/006_1_3", "007/007_3_1", "007/007_5_3"]
    assert index.clips[0].source_row == "SAMM_Micro_FACS_Codes_v2.xlsx row 14"  # 12 rows + header
    assert index.clips[0].frame(12).name == "006_00012.jpg"
    assert index.clips[0].action_units == "R14 or 12"
    five, three = class_set_for("samm", "5"), class_set_for("samm", "3")
    assert [five.label_of(c.emotion) for c in index.clips] == [0, 4, 4, None]
    assert [three.label_of(c.emotion) for c in index.clips] == [0, None, None, 0]


@pytest.mark.parametrize("subject_level", [False, True], ids=["emotion-clip", "subject-emotion-clip"])
def test_mmew_frames_grouped_by_emotion(tmp_path, subject_level):
    rows = [("S01", "S01-01-001", 1, 2, 3, "happiness"), (2, "S02-01-004", 2, 3, 5, "disgust")]
    root = write_mmew(tmp_path, rows, folder_emotion={"S02-01-004": "others"}, subject_level=subject_level)
    index = load_dataset("mmew", root)
    assert [c.key for c in index.clips] == ["S01/S01-01-001", "S02/S02-01-004"]
    assert index.clips[1].frames[3].parent.parent.name == "others"
    assert (index.clips[1].frames[3].parent.parent.parent.name == "S02") == subject_level
    assert index.warnings == (("MMEW_Micro_Exp.xlsx row 3: sheet says 'disgust' but the frames are in "
                               "others/; using the sheet's label"),)


def test_smic_labels_from_folders_and_middle_apex(tmp_path):
    root = write_smic(tmp_path, [(1, "negative", "s1_ne_01", 7), (1, "surprise", "s1_sur_01", 4),
                                 (12, "positive", "s12_po_03", 5)])
    (root / "SMIC_all_raw" / "HS" / "s3" / "micro").mkdir(parents=True)
    index = load_dataset("smic-hs", root)
    assert [(c.key, c.emotion) for c in index.clips] == [
        ("s01/s01_ne_01", "negative"), ("s01/s01_sur_01", "surprise"), ("s12/s12_po_03", "positive")]
    first = index.clips[0]
    assert (first.onset, first.apex, first.offset, first.apex_imputed) == (100, 103, 106, True)
    assert any(w.endswith("s3: no clip folders under micro/<label>/; subject left out")
               for w in index.warnings)
    assert index.warnings[-1] == "SMIC has no apex annotation: the apex of all 3 clips is their middle frame"


def test_casme3_clips_sharing_a_video_are_kept_apart(tmp_path):
    rows = [("spNO.1", "a", 10, 12, 15, "happy"), ("spNO.1", "a", 30, 31, 33, "disgust"),
            ("spNO.2", "b", 1, 2, 3, "others")]
    index = load_dataset("casme3", write_casme3(tmp_path, rows))
    assert [c.key for c in index.clips] == ["spNO.1/a_10", "spNO.1/a_30", "spNO.2/b_1"]
    assert [class_set_for("casme3", "3").label_of(c.emotion) for c in index.clips] == [1, 0, None]
    assert [class_set_for("casme3", "4").label_of(c.emotion) for c in index.clips] == [1, 0, 3]


def test_megc2019_composite_follows_the_official_list(tmp_path, monkeypatch):
    names = official_names()
    assert len(names) == 442 and len(set(names)) == 442
    assert len({n.split("_")[0] for n in names}) == 68
    write_casme2(tmp_path / "casme2", [(1, "EP02_01f", 1, 2, 3, "happiness"),
                                       (1, "EP01_99", 1, 2, 3, "repression"),   # rule-only
                                       (1, "EP19_05f", 1, 2, 3, "fear")], "cropped")
    write_smic(tmp_path / "smic-hs", [(1, "negative", "s1_ne_01", 3)])
    write_samm(tmp_path / "samm", [(6, "006_1_2", 1, 2, 3, "Contempt"), (6, "006_1_1", 1, 2, 3, "Other")])
    monkeypatch.setenv("ZOO_DATA_ROOT", str(tmp_path))
    index = load_dataset("megc2019")
    assert [(c.key, c.emotion) for c in index.clips] == [
        ("smic-s01/s01_ne_01", "negative"), ("casme2-sub01/EP02_01f", "positive"),
        ("samm-006/006_1_2", "negative")]
    assert [part_of(c.key) for c in index.clips] == ["smic", "casme2", "samm"]
    reasons = [e.reason for e in index.excluded]
    assert "sub01_EP01_99 has a casme2-3 label but is not in the official list" in reasons
    assert "official list names sub01_EP19_05f but casme2-3 leaves out its label 'fear'" in reasons
    assert sum("not found among the" in r for r in reasons) == 442 - 4
    assert index.warnings[-1] == ("casme2: the label rule keeps 1 clip(s) the official list leaves "
                                  "out (sub01_EP01_99); following the list")


def test_inspect_cli_json_and_missing_data_message(tmp_path, monkeypatch):
    from zoo.cli import app

    root = write_casme2(tmp_path / "c", CASME2_ROWS, "cropped")
    result = CliRunner().invoke(app, ["data", "inspect", "casme2", "--root", str(root), "--json",
                                      "--classes", "3"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"dataset", "classes", "subjects", "num_samples", "num_subjects", "excluded",
            "warnings"} <= set(report)
    assert report["classes"] == {"negative": 1, "positive": 1, "surprise": 1}
    assert (report["num_samples"], report["num_subjects"], report["imputed_apex"]) == (3, 2, 1)
    assert report["excluded"] == [{"row": "CASME2-coding-20140508.xlsx row 5",
                                   "reason": "label 'fear' is left out by casme2-3"}]
    assert len(report["errata"]) == 22 and report["errata"][0] == {
        "key": "row 62", "field": "offset", "value": 91,
        "source": f"{MEB}: 'Mistake in file, change offset to 91'"}
    monkeypatch.delenv("ZOO_DATA_ROOT", raising=False)
    with pytest.raises(DataError, match="licence-restricted.*--data-root"):
        load_dataset("samm")


def test_composite_results_carry_per_part_metrics():
    from benchmarks.metrics import part_metrics

    samples = [{"clip": "smic-s01/s01_ne_01", "label": 0, "prediction": 0},
               {"clip": "smic-s02/s02_po_01", "label": 1, "prediction": 0},
               {"clip": "casme2-sub01/EP02_01f", "label": 1, "prediction": 1}]
    classes = class_set_for("megc2019").classes
    parts = part_metrics(samples, part_of, classes)
    assert sorted(parts) == ["casme2", "smic"]
    assert parts["smic"]["accuracy"] == 0.5 and parts["casme2"]["accuracy"] == 1.0
    assert part_metrics(samples, None, classes) is None
