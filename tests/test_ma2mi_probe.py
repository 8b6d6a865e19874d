"""The linear probe of experiments/perf/ma2mi_probe.py: features, LOSO folds, metrics, checkpoints."""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.datasets import load_dataset
from benchmarks.files import cache_home
from experiments.perf.ma2mi_probe import action_features, linear_probe, probe_dataset
from benchmarks.preprocess import PreprocessConfig, prepare
from fixtures.mer_layouts import write_casme2
from zoo.models import create_model
from zoo.io.weights import save_checkpoint

CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
ROWS = [
    (subject, f"EP0{n}_0{subject}", 1, 3, 5, CLASSES[(subject + n) % 5])
    for subject in (1, 2, 3)
    for n in (1, 2, 3)
]


def test_action_features_have_one_value_per_channel_and_cell():
    torch.manual_seed(0)
    model = create_model("miacnet", 5, width=4)
    frames = torch.randint(0, 256, (2, 5, 3, 32, 32), dtype=torch.uint8)
    features = action_features(model, frames[0], frames[1], grid=2)
    assert features.shape == (5, model.action.channels * 2 * 2)
    assert not model.training  # frozen: batch-norm statistics are not updated


def test_probe_folds_are_subject_disjoint_and_label_carrying_features_score_one():
    rng = np.random.default_rng(0)
    labels = [i % 4 for i in range(20)]
    subjects = [f"s{i // 4}" for i in range(20)]
    carrying = 3 * np.eye(5)[labels] + rng.normal(0, 0.1, (20, 5))
    result = linear_probe(carrying, labels, subjects, CLASSES)
    assert result["uf1"] == 1.0 and result["uar"] == 1.0
    assert [f["name"] for f in result["folds"]] == ["s0", "s1", "s2", "s3", "s4"]
    for fold in result["folds"]:
        assert fold["test_subjects"] not in fold["train_subjects"]
        assert {subjects[i] for i in fold["test"]} == set(fold["test_subjects"])
    assert sorted(i for f in result["folds"] for i in f["test"]) == list(range(20))
    assert len(result["predictions"]) == 20 and result["feature_dim"] == 5
    # features that do not carry the label: chance-level, not 1.0
    assert linear_probe(rng.normal(size=(20, 5)), labels, subjects, CLASSES)["uf1"] < 0.6


def test_probe_a_random_and_a_pretrained_action_branch_on_a_tiny_dataset(tmp_path):
    root = write_casme2(tmp_path / "casme2", ROWS, layout="cropped")
    random_init = probe_dataset("casme2", {"width": "4"}, seed=0, input_size=32, data_root=root)
    assert random_init["init"] == "random" and len(random_init["predictions"]) == len(ROWS)
    assert {f["name"] for f in random_init["folds"]} == {"sub01", "sub02", "sub03"}

    # an MA2MI-style checkpoint (action weights, "covers" metadata): the probe sees its weights
    torch.manual_seed(5)
    donor = create_model("miacnet", 5, width=4)
    path = tmp_path / "ma2mi.safetensors"
    state = {k: v for k, v in donor.state_dict().items() if k.startswith("action.")}
    save_checkpoint(path, state, {"covers": ["action."]})
    pretrained = probe_dataset("casme2", {"width": "4"}, checkpoint=str(path), input_size=32, data_root=root)
    assert pretrained["init"] == "ma2mi" and pretrained["checkpoint"] == str(path)
    rows = prepare(load_dataset("casme2", root), PreprocessConfig(size=32), cache_home()).rows(pretrained["clips"])
    expected = linear_probe(action_features(donor, rows["onset"], rows["apex"]),
                            [CLASSES.index(r[5]) for r in ROWS], [f"sub0{r[0]}" for r in ROWS], CLASSES)
    assert pretrained["predictions"] == expected["predictions"]
