"""``zoo train`` on every subject, ``zoo predict`` on new clips, ``zoo.load`` / ``zoo.predict``,
and a trained model through the Hub (push, pull by revision, predict) on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.hub_server import LoopbackHub
from test_hub import TOKEN, one_line_error, run_steps, zoo as step
from test_leaderboard import zoo as zoo_cli

import zoo as api
from benchmarks.datasets import load_dataset
from benchmarks.files import cache_home
from benchmarks.preprocess import prepare
from registry.errors import CheckpointError, ConfigError, DataError
from zoo.bench import BenchSpec, plan_benchmark, run_benchmark
from zoo.bench.training import train_model
from zoo.engine.trained import load_trained, probabilities

TINY = {"epochs": 2, "input_size": 32, "batch_size": 16}


def plan(out: Path, **overrides):
    return plan_benchmark(BenchSpec(model="timm-flow", device="cpu", out=out, options={"backbone": "test_resnet"},
                                    overrides={**TINY, **overrides}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A timm-flow (test_resnet) trained on every synth subject, and its in-process outputs: the
    trained model applied to the cached inputs of every clip, in the process that trained it."""
    out = tmp_path_factory.mktemp("models")
    folder = train_model(plan(out))
    model, preprocess, config = load_trained(folder)
    index = load_dataset("synth")
    keys = [clip.key for clip in index.clips]
    cached = prepare(index, preprocess.preprocessing, cache_home()).rows(keys)
    inputs = {k: cached[k] for k in preprocess.keys}
    return folder, keys, probabilities(model, preprocess, inputs).numpy(), index


def test_the_folder_records_what_rebuilds_and_feeds_the_model(trained):
    folder, keys, _, index = trained
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert (config["kind"], config["model"], config["num_classes"], config["dataset"]) == ("model", "timm-flow", 5, "synth")
    assert config["classes"] == ["happiness", "disgust", "repression", "surprise", "others"]
    assert config["subjects"] == sorted({c.subject for c in index.clips}) and config["num_clips"] == len(keys)
    assert config["preprocessing"]["size"] == 32 and config["inputs"]["source"] == "frames"
    assert config["normalizer"]["scaling"] == "standard" and config["normalizer"]["scales"]["flow"] > 0
    assert config["hyperparameters"]["epochs"] == 2 and config["hyperparameter_sources"]["epochs"] == "command line"
    assert len(config["losses"]) == 2 and config["fingerprint"] == index.fingerprint()
    assert torch.__version__.startswith(config["environment"]["torch"])
    assert config["selected_epoch"] == 2 and config["validation_subjects"] == []  # timm-flow's recipe: last epoch


def test_selection_val_holds_out_training_subjects_and_records_them(tmp_path):
    config = json.loads((train_model(plan(tmp_path, selection="val")) / "config.json").read_text())
    subjects = config["subjects"]
    assert len(config["validation_subjects"]) == round(0.2 * len(subjects))  # whole subjects, 20 % of them
    assert set(config["validation_subjects"]) < set(subjects)
    assert config["selected_epoch"] in (1, 2)


def test_predict_on_the_dataset_gives_the_in_process_outputs(trained, monkeypatch, capsys):
    folder, keys, expected, _ = trained
    code, out, _ = zoo_cli(monkeypatch, capsys, "predict", folder, "--dataset", "synth", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [row["clip"] for row in rows] == keys and rows[0]["subject"] == keys[0].split("/")[0]
    got = np.array([list(row["probabilities"].values()) for row in rows])
    assert got.shape == (len(keys), 5)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [row["predicted"] for row in rows] == [list(rows[0]["probabilities"])[i] for i in expected.argmax(1)]


def test_predict_from_frames_equals_the_cached_clip(trained):
    folder, keys, expected, index = trained
    clip = index.clips[7]
    model, preprocess = api.load(folder)
    (row,) = api.predict(model, preprocess, onset=clip.frame(clip.onset), apex=clip.frame(clip.apex))
    np.testing.assert_allclose(list(row["probabilities"].values()), expected[7], atol=1e-5)
    (same,) = api.predict(model, preprocess, clip=_clip_folder(clip, folder.parent / "clip"))
    assert same["probabilities"] == row["probabilities"]


def _clip_folder(clip, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, number in (("onset", clip.onset), ("apex", clip.apex)):
        (folder / f"{name}.jpg").write_bytes(clip.frame(number).read_bytes())
    return folder


def test_bad_inputs_are_one_line_naming_the_file(trained, tmp_path, monkeypatch, capsys):
    folder, _, _, index = trained
    clip = index.clips[0]
    onset, apex = clip.frame(clip.onset), clip.frame(clip.apex)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    import cv2
    cv2.imwrite(str(tmp_path / "small.jpg"), np.zeros((20, 30, 3), np.uint8))
    cases = [
        (["--onset", tmp_path / "none.jpg", "--apex", apex], f"onset frame {tmp_path / 'none.jpg'} does not exist"),
        (["--onset", onset, "--apex", tmp_path / "broken.jpg"], f"apex frame {tmp_path / 'broken.jpg'} is not a readable image"),
        (["--onset", onset, "--apex", tmp_path / "small.jpg"], f"apex frame {tmp_path / 'small.jpg'} is 30x20 but the onset frame"),
        (["--clip", tmp_path], f"clip folder {tmp_path} has no onset and no apex frame"),
        (["--onset", onset], "a clip needs both --onset IMG and --apex IMG"),
        (["--clip", tmp_path, "--dataset", "synth"], "give one clip"),
    ]
    for args, message in cases:
        code, out, err = zoo_cli(monkeypatch, capsys, "predict", folder, *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (args, err)
    code, _, err = zoo_cli(monkeypatch, capsys, "predict", tmp_path, "--dataset", "synth")
    assert code == 2 and f"{tmp_path} is not a model folder of zoo train: it has no config.json" in err


def test_a_flow_image_model_refuses_frames(tmp_path):
    from fixtures.mer_layouts import write_megc2019_flow

    root = write_megc2019_flow(tmp_path / "flow")
    spec = BenchSpec(model="ststnet", dataset="megc2019-flow", data_root=str(root), device="cpu", out=tmp_path / "m",
                     overrides={"epochs": 1})
    folder = train_model(plan_benchmark(spec))
    model, preprocess = api.load(folder)
    frame = tmp_path / "f.png"
    import cv2
    cv2.imwrite(str(frame), np.zeros((28, 28, 3), np.uint8))
    with pytest.raises(ConfigError, match=r"trained on megc2019-flow's released inputs \(flow, strain at 28 px\), "
                                          r"which frames cannot give; predict with --dataset megc2019-flow"):
        api.predict(model, preprocess, onset=frame, apex=frame)
    rows = api.predict(model, preprocess, dataset="megc2019-flow", data_root=root)
    assert len(rows) == 442 and set(rows[0]["probabilities"]) == {"negative", "positive", "surprise"}
    with pytest.raises(ConfigError, match="trained on megc2019-flow's released inputs; synth gives frames"):
        api.predict(model, preprocess, dataset="synth")


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from zoo.engine import trainer

    straight = train_model(plan(tmp_path / "straight", epochs=3))
    calls = {"n": 0}
    real_save = trainer.FoldCheckpoint.save

    def save_then_die(self, *args):
        real_save(self, *args)
        calls["n"] += 1
        raise KeyboardInterrupt  # killed right after the state of epoch 1 was saved

    monkeypatch.setattr(trainer.FoldCheckpoint, "save", save_then_die)
    interrupted = plan_benchmark(dataclasses.replace(plan(tmp_path / "resumed", epochs=3).spec, checkpoint_every=1))
    with pytest.raises(KeyboardInterrupt):
        train_model(interrupted)
    assert calls["n"] == 1 and not list((tmp_path / "resumed").glob("*/config.json"))
    assert len(list((tmp_path / "resumed").glob(".partial/*/all-subjects.state.safetensors"))) == 1
    monkeypatch.setattr(trainer.FoldCheckpoint, "save", real_save)
    resumed = train_model(interrupted)
    a, b = load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((resumed / "config.json").read_text())["losses"] == json.loads(
        (straight / "config.json").read_text())["losses"]


def test_pretrained_accepts_a_trained_folder_and_records_the_overlap(trained, tmp_path):
    folder = trained[0]
    spec = BenchSpec(model="timm-flow", device="cpu", out=tmp_path, options={"backbone": "test_resnet"},
                     protocol="holdout", overrides={**TINY, "epochs": 1}, pretrained=str(folder))
    result = json.loads(run_benchmark(plan_benchmark(spec)).read_text())
    record = result["pretraining"]
    assert record["pretrainer"] == "zoo train" and record["corpus"] == "synth"
    assert record["load"]["missing"] == [] and record["load"]["loaded"] > 0
    assert record["subjects_overlap_eval"]  # trained on every subject: the evaluation's subjects were seen
    with pytest.raises(CheckpointError, match="is not a model folder of zoo train"):
        plan_benchmark(BenchSpec(model="timm-flow", pretrained=str(tmp_path), options={"backbone": "test_resnet"}))


def test_round_trip_through_the_hub_train_push_pull_by_revision_predict(trained, tmp_path):
    folder, keys, expected, _ = trained
    hub = LoopbackHub({TOKEN: "alice"})
    try:
        pushed = run_steps(hub.url, tmp_path / "publisher", {"push": step("push", str(folder), "--repo", "alice/model")},
                           HF_TOKEN=TOKEN)
        assert pushed["push"]["code"] == 0, pushed
        files = hub.files("alice/model")
        assert {"config.json", "README.md", "model.safetensors"} <= set(files)
        assert files["model.safetensors"] == (folder / "model.safetensors").read_bytes()
        assert json.loads(files["config.json"])["kind"] == "model"
        assert "zoo predict hf:alice/model --onset onset.jpg --apex apex.jpg" in files["README.md"].decode()
        commit = hub.repos["alice/model"].branches["main"]
        got = run_steps(hub.url, tmp_path / "user", {
            "predict": step("predict", f"hf:alice/model@{commit}", "--dataset", "synth", "--json"),
            "pull": step("pull", f"alice/model@{commit}"),
            "missing repo": step("predict", "hf:alice/nothing", "--dataset", "synth"),
        })
        assert got["predict"]["code"] == 0, got["predict"]["stderr"]
        rows = json.loads(got["predict"]["stdout"])
        np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows], expected, atol=1e-5)
        assert got["pull"]["code"] == 0
        one_line_error(got["missing repo"], "alice/nothing")
    finally:
        hub.close()


def test_the_card_of_a_model_trained_on_released_inputs_predicts_from_such_a_release(trained):
    from zoo.hub.card import _model_body

    config = json.loads((trained[0] / "config.json").read_text())
    config["inputs"] = {**config["inputs"], "source": "megc2019-flow"}
    body = _model_body("m", "alice/m", config, "other")
    assert "zoo predict hf:alice/m --dataset megc2019-flow --data-root DIR" in body
    assert 'zoo.predict(model, preprocess, dataset="megc2019-flow", data_root="DIR")' in body
    assert "--onset" not in body
