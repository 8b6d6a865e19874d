"""Reading STSTNet's released prediction logs into subject counts mer-zoo's paired test takes."""

from pathlib import Path

import pytest

from benchmarks import significance
from experiments.perf.ststnet_release import (
    agreement,
    clip_log_entry,
    read_clip_log,
    read_subject_log,
    rerun_of,
    subject_counts_of_lists,
)
from registry.errors import ConfigError

CLASSES = ("negative", "positive", "surprise")
CLIP_LOG = """casme2 sub01
EP02_01f 1 1
EP19_05f 0 2
samm 006
006_1_2 0 0
"""
SUBJECT_LOG = """Subject: 006 
Predicted   : [0, 2] 
Ground Truth: [0, 2] 
UF1: 0.5 | UAR: nan 
Subject: sub01 
Predicted   : [1, 1] 
Ground Truth: [1, 0] 
Final Evaluation: 
"""


def test_clip_log_gives_samples_keyed_as_result_files(tmp_path):
    path = tmp_path / "STSTNet_logfile.txt"
    path.write_text(CLIP_LOG)
    assert read_clip_log(path) == [
        {"clip": "casme2-sub01/EP02_01f", "label": 1, "prediction": 1},
        {"clip": "casme2-sub01/EP19_05f", "label": 0, "prediction": 2},
        {"clip": "samm-006/006_1_2", "label": 0, "prediction": 0},
    ]


def test_clip_log_entries_read_back_as_the_samples_written(tmp_path):
    """The official script's recipe re-run here (``shortest_loop --log``) writes the release's format."""
    subjects = [[{"clip": "samm-006/006_1_2", "label": 0, "prediction": 2}, {"clip": "samm-006/006_1_3", "label": 1, "prediction": 1}],
                [{"clip": "smic-s1/s1_ne_01", "label": 2, "prediction": 0}]]
    path = tmp_path / "rerun.log"
    path.write_text("".join(clip_log_entry(samples) for samples in subjects))
    assert path.read_text().splitlines()[:2] == ["samm 006", "006_1_2 0 2"]
    assert read_clip_log(path) == subjects[0] + subjects[1]


def test_clip_log_names_the_line_it_cannot_read(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("casme2 sub01\nEP02_01f one 1\n")
    with pytest.raises(ConfigError, match=r"log.txt, line 2: .*'EP02_01f one 1'"):
        read_clip_log(path)


def benchmark(labels_by_subject: dict[str, list[int]]) -> significance.SubjectCounts:
    samples = [{"clip": f"{subject}/c{i}", "label": label, "prediction": 0}
               for subject, labels in labels_by_subject.items() for i, label in enumerate(labels)]
    return significance.subject_counts([samples], CLASSES)


def test_subject_log_counts_land_on_the_benchmarks_subjects(tmp_path):
    path = tmp_path / "STSTNet_python_logfile.txt"
    path.write_text(SUBJECT_LOG)
    lists = read_subject_log(path)
    assert lists == {"006": ([0, 2], [0, 2]), "sub01": ([1, 0], [1, 1])}
    like = benchmark({"casme2-sub01": [0, 1], "samm-006": [2, 0]})
    counts = subject_counts_of_lists(lists, like)
    assert counts.subjects == ("casme2-sub01", "samm-006") and counts.clips == like.clips
    # casme2-sub01: true 1 -> 1, true 0 -> 1; samm-006: 0 -> 0, 2 -> 2
    assert counts.counts[0].tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert counts.counts[1].tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]
    # pooled: negative F1 2*1/(2+1) = 2/3, positive 2*1/(1+2) = 2/3, surprise 1
    assert float(significance.metric_of(counts.counts.sum(0), "uf1")) == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)


def test_subject_log_with_other_labels_than_the_benchmark_is_refused(tmp_path):
    path = tmp_path / "STSTNet_python_logfile.txt"
    path.write_text(SUBJECT_LOG)
    like = benchmark({"casme2-sub01": [0, 1], "samm-006": [0, 0]})
    with pytest.raises(ConfigError, match=r"subject 006: the log's true labels \{0: 1, 2: 1\} are not the benchmark's \[2, 0, 0\]"):
        subject_counts_of_lists(read_subject_log(path), like)
    other = benchmark({"casme2-sub01": [0, 1], "samm-007": [0, 2]})
    with pytest.raises(ConfigError, match=r"the log's subjects \(2\) are not the benchmark's \(2\): \['006', '007'\]"):
        subject_counts_of_lists(read_subject_log(path), other)


def test_agreement_is_the_share_of_clips_predicted_alike_and_reruns_name_their_seed():
    a = [{"clip": f"s1/c{i}", "label": 0, "prediction": p} for i, p in enumerate([0, 1, 2, 2])]
    b = [{"clip": f"s1/c{i}", "label": 0, "prediction": p} for i, p in reversed(list(enumerate([0, 1, 0, 0])))]
    assert agreement(a, b) == 0.5 and agreement(a, a) == 1.0
    assert rerun_of("2=logs/ststnet-s2.log") == (2, Path("logs/ststnet-s2.log"))
    with pytest.raises(ConfigError, match="--rerun 'logs/ststnet-s2.log': expected SEED=FILE"):
        rerun_of("logs/ststnet-s2.log")
