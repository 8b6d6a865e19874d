"""``megc2019-flow`` (STSTNet's released flow images) against its seeded copy in both layouts."""

from collections import Counter

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from fixtures.mer_layouts import write_megc2019_flow

from benchmarks.datasets import class_set_for, load_dataset
from benchmarks.datasets.megc2019 import part_of
from benchmarks.preprocess import PreprocessConfig, prepare
from benchmarks.records import InputSpec
from zoo.bench import BenchSpec, plan_benchmark, run_benchmark, select_samples
from leaderboard.store import read_result
from registry import PROTOCOLS
from registry.errors import ConfigError, DataError
from zoo.engine.trainer import FoldData, TrainConfig, fit_predict


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    return write_megc2019_flow(tmp_path_factory.mktemp("megc2019-flow"))


def test_official_composition_subjects_and_labels(whole):
    index = load_dataset("megc2019-flow", whole)
    class_set = class_set_for("megc2019-flow")
    assert class_set.name == "megc2019-3" and len(index.clips) == 442 and index.warnings == ()
    assert len(index.subjects) == 68
    assert Counter(part_of(c.key) for c in index.clips) == {"smic": 164, "casme2": 145, "samm": 133}
    labels = [class_set.label_of(c.emotion) for c in index.clips]
    assert Counter(class_set.classes[i] for i in labels) == {"negative": 250, "positive": 109, "surprise": 83}
    first, smic, samm = index.clips[0], index.clips[145], index.clips[-1]
    assert (first.key, first.emotion, first.source_row) == (
        "casme2-sub01/EP02_01f", "positive", "combined_3_class2_for_optical_flow.csv row 2")
    assert (smic.key, smic.emotion) == ("smic-s01/s01_ne_01", "negative")
    assert samm.key == "samm-037/037_3_2" and samm.frame(0).name == "037_037_3_2 .png"
    assert first.frame(0).parent.name == "STSNet_whole_norm_u_v_os"
    folds = PROTOCOLS.get("loso").obj([c.subject for c in index.clips], 0)
    assert len(folds) == 68 and {f.test_subjects for f in folds} == {(s,) for s in index.subjects}


def test_htnet_per_subject_layout_reads_the_same_clips(whole, tmp_path):
    per_subject = load_dataset("megc2019-flow", write_megc2019_flow(tmp_path, layout="per-subject"))
    assert [(c.key, c.emotion) for c in per_subject.clips] == [
        (c.key, c.emotion) for c in load_dataset("megc2019-flow", whole).clips]
    clip = per_subject.clips[-1]
    label = ("negative", "positive", "surprise").index(clip.emotion)
    assert clip.frame(0).relative_to(tmp_path / "three_norm_u_v_os").as_posix() == (
        f"037/u_test/{label}/037_037_3_2 .png")


def test_missing_image_names_the_file_and_the_row(tmp_path):
    root = write_megc2019_flow(tmp_path)
    (root / "STSNet_whole_norm_u_v_os" / "s03_s03_po_02 .png").unlink()
    with pytest.raises(DataError, match=r"^combined_3_class2_for_optical_flow.csv row 182: image "
                                        r".*STSNet_whole_norm_u_v_os/s03_s03_po_02 \.png not found"):
        load_dataset("megc2019-flow", root)


def test_label_folder_disagreeing_with_the_sheet_is_named(tmp_path):
    rows = [("samm", "006", "006_1_2", 0), ("samm", "007", "007_3_1", 2)]
    root = write_megc2019_flow(tmp_path, rows, layout="per-subject")
    tests = root / "three_norm_u_v_os" / "007" / "u_test"
    (tests / "2").rename(tests / "1")
    with pytest.raises(DataError, match=r"row 3: label 2 but its image is .*/007/u_test/1/007_007_3_1 \.png"):
        load_dataset("megc2019-flow", root)


def test_cache_gives_u_v_strain_in_file_channel_order_at_28_px(tmp_path):
    root = write_megc2019_flow(tmp_path, [("casme2", "sub01", "EP02_01f", 1), ("samm", "006", "006_1_2", 0)])
    image = np.dstack([np.full((28, 28), v, np.uint8) for v in (10, 20, 30)])  # written as (u, v, strain)
    cv2.imwrite(str(root / "STSNet_whole_norm_u_v_os" / "sub01_EP02_01f .png"), image)
    index = load_dataset("megc2019-flow", root)
    assert index.warnings[0].startswith("combined_3_class2_for_optical_flow.csv differs from the official "
                                        "442-clip list: 0 extra (), 440 absent (sub01_EP19_05f,")
    prepared = prepare(index, PreprocessConfig(size=28), tmp_path / "cache")
    assert set(prepared.tensors) == {"flow", "strain", "face_found"}
    assert prepared.tensors["flow"].shape == (2, 2, 28, 28)
    assert prepared.tensors["strain"].shape == (2, 1, 28, 28)
    assert prepared.tensors["flow"][0, :, 0, 0].tolist() == pytest.approx([10 / 255, 20 / 255])
    assert prepared.tensors["strain"][0, 0, 0, 0].item() == pytest.approx(30 / 255)
    with pytest.raises(ConfigError, match="megc2019-flow is released at 28 px only; prepare it at size 28, "
                                          "not 32"):
        prepare(index, PreprocessConfig(size=32), tmp_path / "cache")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"model": "diff_resnet18"}, "model diff_resnet18 reads onset, apex but dataset megc2019-flow "
                                     r"provides only flow, strain \(no onset, apex\)"),
        ({"overrides": {"input_size": 112}}, "--input-size 112 contradicts dataset megc2019-flow inputs "
                                             r"\(released at 28 px\)"),
    ],
)
def test_inputs_the_dataset_cannot_provide_fail_at_plan_time(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        plan_benchmark(BenchSpec(**{"model": "timm-flow", "dataset": "megc2019-flow",
                                    "data_root": str(tmp_path), "out": tmp_path / "r", **kwargs}))
    assert not (tmp_path / "r").exists()


def test_timm_flow_runs_end_to_end_with_per_part_metrics(whole, tmp_path):
    plan = plan_benchmark(BenchSpec(
        "timm-flow", dataset="megc2019-flow", data_root=str(whole), protocol="holdout", device="cpu",
        out=tmp_path, overrides={"epochs": 2, "input_size": 28}, options={"backbone": "test_resnet"}))
    assert plan.sources["augment"] == "dataset megc2019-flow budget" and not plan.train.augment.active
    result = read_result(run_benchmark(plan))
    assert result["dataset"]["num_samples"] == 442 and result["dataset"]["num_subjects"] == 68
    assert result["model"]["options"]["backbone"] == "test_resnet"  # any timm name
    assert result["inputs"]["dataset"]["source"] == "benchmarks.datasets.megc2019_flow.read_released_clip"
    assert result["hyperparameter_sources"]["input_size"] == (
        "dataset megc2019-flow inputs (released at 28 px)")
    (fold,) = result["folds"]
    parts = Counter(part_of(s["clip"]) for s in fold["samples"])
    assert set(result["part_metrics"]) == {"smic", "casme2", "samm"}
    assert {p: m["num_samples"] for p, m in result["part_metrics"].items()} == parts
    assert result["metrics"]["uf1"] > 0.5  # the fixture's labels carry signal; chance is about 0.33


class FlowAndStrain(nn.Module):
    """Reads flow and strain min-max scaled, as STSTNet does; keeps the last strain it saw."""

    inputs = InputSpec(("flow", "strain"), size=28, scaling="minmax")

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 3)

    def forward(self, flow, strain):
        self.seen = strain
        return self.head(torch.cat([flow, strain], dim=1).mean(dim=(2, 3)) * 10 - 5)


def test_strain_reaches_a_model_min_max_scaled_and_it_learns(whole):
    index = load_dataset("megc2019-flow", whole)
    keys, labels, subjects = select_samples(index, class_set_for("megc2019-flow"))
    data = FoldData(prepare(index, PreprocessConfig(size=28), whole / "cache").rows(keys),
                    torch.tensor(labels), tuple(subjects))
    train = [i for i, s in enumerate(subjects) if not s.startswith("samm")]
    test = [i for i, s in enumerate(subjects) if s.startswith("samm")]
    model = FlowAndStrain()
    outcome = fit_predict(lambda: model, data.subset(train), data.subset(test),
                          TrainConfig(epochs=20, batch_size=32, lr=0.05, device="cpu"), 3)
    flat = model.seen.flatten(2)
    assert flat.amin(2).unique().tolist() == [0.0] and flat.amax(2).unique().tolist() == [1.0]
    accuracy = (torch.tensor(outcome.predictions) == data.subset(test).labels).float().mean().item()
    assert len(test) == 133 and accuracy > 0.8
