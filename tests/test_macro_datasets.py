"""Macro corpora: the generic, CK+, DFEW, CAS(ME)^2 and SAMM long-video layouts against small
fake copies, synth-macro (v1 and v2), errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.macro import overlapping_subjects
from benchmarks.macro.casme_sq import read_casme_sq
from benchmarks.macro.ckplus import read_ckplus
from benchmarks.macro.dfew import read_dfew
from benchmarks.macro.generic import read_generic
from benchmarks.macro.samm_lv import read_samm_lv
from benchmarks.datasets.synth import APPEARANCE_V2
from benchmarks.macro.synth_macro import MACRO_CONFIG, read_synth_macro, read_synth_macro_v2, write_corpus
from benchmarks.synthetic import SynthConfig
from fixtures.macro_layouts import write_casme_sq, write_dfew, write_samm_lv
from registry import MACRO
from registry.errors import DataError


def write_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((16, 16, 3), 10 * i, np.uint8))


def generic_corpus(root: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    for row in rows:
        write_frames(root / "frames" / row["subject"] / row["clip"], [f"img{n}.jpg" for n in range(5, 12)])
    with open(root / "annotations.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header or list(rows[0]))
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k in writer.fieldnames} for row in rows)
    return root


def test_generic_layout(tmp_path):
    root = generic_corpus(
        tmp_path,
        [
            {"subject": "p1", "clip": "smile", "onset": 5, "apex": 9, "emotion": "happiness"},
            {"subject": "p2", "clip": "frown", "onset": 6, "apex": 11, "emotion": ""},
        ],
    )
    index = read_generic(root)
    assert index.subjects == ["p1", "p2"]
    first, second = index.clips
    assert (first.onset, first.apex, first.offset, first.emotion) == (5, 9, 11, "happiness")
    assert (second.onset, second.apex) == (6, 11) and sorted(second.frames) == list(range(5, 12))


def test_generic_layout_without_onset_apex_names_the_file(tmp_path):
    root = generic_corpus(
        tmp_path, [{"subject": "p1", "clip": "a", "onset": 5, "apex": 9}], header=["subject", "clip", "onset"]
    )
    with pytest.raises(DataError, match=r"annotations\.csv: no apex column"):
        read_generic(root)
    generic_corpus(tmp_path, [{"subject": "p1", "clip": "a", "onset": 5, "apex": ""}])
    with pytest.raises(DataError, match=r"annotations\.csv line 2: onset '5' / apex ''"):
        read_generic(root)
    (root / "annotations.csv").unlink()
    with pytest.raises(DataError, match=r"annotations\.csv: annotation file not found"):
        read_generic(root)


def test_generic_layout_missing_frame(tmp_path):
    root = generic_corpus(tmp_path, [{"subject": "p1", "clip": "a", "onset": 5, "apex": 30}])
    with pytest.raises(DataError, match=r"frame\(s\) \[30\] not found"):
        read_generic(root)


def test_ckplus_layout(tmp_path):
    for subject, sequence, count in (("S005", "001", 4), ("S010", "002", 3)):
        write_frames(
            tmp_path / "cohn-kanade-images" / subject / sequence,
            [f"{subject}_{sequence}_{n:08d}.png" for n in range(1, count + 1)],
        )
    label = tmp_path / "Emotion" / "S005" / "001" / "S005_001_00000004_emotion.txt"
    label.parent.mkdir(parents=True)
    label.write_text("   3.0000000e+00\n")
    index = read_ckplus(tmp_path)
    assert index.subjects == ["S005", "S010"]
    first, second = index.clips
    assert (first.onset, first.apex, first.emotion) == (1, 4, "disgust")
    assert (second.onset, second.apex, second.emotion) == (1, 3, "")
    with pytest.raises(DataError, match="no cohn-kanade-images/ folder"):
        read_ckplus(tmp_path / "Emotion")


@pytest.mark.parametrize("appearance", [None, APPEARANCE_V2], ids=["v1", "v2"])
def test_synth_macro_is_written_in_the_generic_layout(tmp_path, appearance):
    small = SynthConfig(
        **{
            **MACRO_CONFIG.to_dict(),
            "subjects": 2,
            "clips_per_subject": (2, 2),
            "frame_size": 48,
            "frames_per_clip": (6, 8),
        }
    )
    root = write_corpus(small, tmp_path / "corpus", appearance)
    index = (read_synth_macro_v2 if appearance else read_synth_macro)(root)
    assert index.subjects == ["macro01", "macro02"] and len(index.clips) == 4
    generator = json.loads(index.generator or "{}")
    assert generator.get("version") == (2 if appearance else 1)
    assert all(c.onset < c.apex <= c.offset for c in index.clips)
    # macro-sized motions from the same generator, with more identities than synth
    assert MACRO_CONFIG.amplitude_px >= 3 * SynthConfig().amplitude_px
    assert MACRO_CONFIG.subjects > SynthConfig().subjects


def test_dfew_layout_pairs_from_whole_clips(tmp_path):
    root = write_dfew(tmp_path, [(1, 6, 1), (2, 4, 7), (3, 5, None), (4, 1, 2)], listed_only=[9])
    index = read_dfew(root)
    assert [c.clip for c in index.clips] == ["00001", "00002", "00003"]  # 00004 has one frame
    first, second, unlabelled = index.clips
    assert (first.onset, first.apex, first.offset, first.emotion) == (1, 6, 6, "happy")
    assert (second.apex, second.emotion) == (4, "fear") and unlabelled.emotion == ""
    assert index.subjects == ["00001", "00002", "00003"]  # no identities: a clip is a subject
    assert any("whole clip" in w for w in index.warnings)
    assert MACRO.get("dfew").meta["pairs_from"].startswith("whole clip")
    assert [(Path(e.row).name, e.reason.split(";")[0]) for e in index.excluded] == [
        ("00004", "1 frame(s)"),
        ("EmoLabel_DataSplit clip 00009", f"no folder {root / 'Clip' / 'clip_224x224' / '00009'}"),
    ]
    with pytest.raises(DataError, match=r"no DFEW clip folder \(Clip/clip_224x224\)"):
        read_dfew(tmp_path / "EmoLabel_DataSplit")


def test_casme_sq_keeps_macro_rows(tmp_path):
    root = write_casme_sq(
        tmp_path,
        [
            (1, "disgust1_1", 3, 10, 20, "macro-expression"),
            (1, "disgust1_2", 12, 14, 16, "micro-expression"),
            (2, "anger1_1", 5, 9, 0, "macro-expression"),  # offset 0: not annotated
            (3, "happy1_1", 30, 35, 90, "macro-expression"),  # offset past the last frame
        ],
    )
    index = read_casme_sq(root)
    assert [(c.subject, c.clip, c.onset, c.apex, c.offset) for c in index.clips] == [
        ("s15", "disgust1_1", 3, 10, 20),
        ("s16", "anger1_1", 5, 9, 9),
        ("s19", "happy1_1", 30, 35, 90),
    ]
    assert index.clips[0].frames[3].parent.name == "15_0101disgustingteeth"
    assert any("row 3: offset 0" in w for w in index.warnings)
    assert any("row 4: offset frame 90 missing" in w for w in index.warnings)
    (root / "CAS(ME)^2code_final.xlsx").rename(root / "other.xlsx")
    with pytest.raises(DataError, match=r"no CAS\(ME\)\^2 coding sheet"):
        read_casme_sq(root)


def test_samm_long_videos_keep_macro_rows(tmp_path):
    root = write_samm_lv(
        tmp_path,
        [
            (6, "006_1_1", 5, 12, 30, "Macro"),
            (6, "006_1_2", 14, 15, 16, "Micro - 1/2"),
            (7, "007_3_1", 0, 8, 20, "Macro"),  # onset 0: not annotated
            (7, "007_3_2", 10, 25, 35, "Macro"),
        ],
    )
    index = read_samm_lv(root)
    assert [(c.subject, c.clip, c.onset, c.apex, c.offset) for c in index.clips] == [
        ("006", "006_1_1", 5, 12, 30),
        ("007", "007_3_2", 10, 25, 35),
    ]
    assert index.clips[1].frames[10].name == "007_3_0010.jpg"
    assert [e.reason for e in index.excluded] == ["onset 0 (not annotated); pre-training needs onset -> apex"]
    # the same people as SAMM's micro-expressions, under the SAMM reader's ids
    assert MACRO.get("samm-lv").meta["same_subjects_as"] == ("samm",)
    assert overlapping_subjects(index.subjects, ["samm"], "samm", ["006", "020"]) == ["006"]


def test_subject_overlap_only_for_declared_datasets():
    assert overlapping_subjects(["006", "007"], ["samm"], "samm", ["007", "020"]) == ["007"]
    assert overlapping_subjects(["006", "007"], [], "samm", ["007"]) == []


def test_fresh_process_lists_macro_corpora():
    out = subprocess.run(
        [sys.executable, "-c", "from registry import MACRO; print(MACRO.names())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert eval(out) == ["casme-sq", "ck+", "dfew", "macro-folders", "samm-lv", "synth-macro", "synth-macro-v2"]
