"""MA2MI pre-training on a tiny corpus: loss, checkpoints, resume, loading into MIACNet, errors."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from benchmarks.files import cache_home, local_path, portable_path
from benchmarks.macro.synth_macro import MACRO_CONFIG, write_corpus
from benchmarks.synthetic import SynthConfig
from registry import MACRO
from registry.errors import CheckpointError, ConfigError
from zoo.cli import app
from zoo.models import create_model
from zoo.pretrain.checkpoints import load_pretrained, pretrained_for
from zoo.pretrain.ma2mi import FINAL, STATE, MA2MIConfig, parse_gap, pretrain_ma2mi
from zoo.io.weights import checkpoint_meta, read_tensors, save_checkpoint

TINY = {"width": 4}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    small = SynthConfig(
        **{
            **MACRO_CONFIG.to_dict(),
            "subjects": 3,
            "clips_per_subject": (2, 2),
            "frame_size": 48,
            "frames_per_clip": (8, 10),
        }
    )
    return write_corpus(small, tmp_path_factory.mktemp("macro") / "corpus")


def run(corpus, out, device="cpu", progress=None, **settings):
    config = MA2MIConfig(**{"input_size": 32, "batch_size": 8, "checkpoint_every": 1, **settings})
    return pretrain_ma2mi(
        "macro-folders", out=out, config=config, model_options=TINY, data_root=corpus, device=device,
        progress=progress,
    )


def test_loss_decreases_and_checkpoint_describes_itself(corpus, tmp_path):
    path = run(corpus, tmp_path, epochs=6, lr=3e-3)
    meta = checkpoint_meta(path)
    losses = meta["losses"]
    assert len(losses) == 6 and losses[-1] < 0.8 * losses[0]
    assert meta["corpus"] == "macro-folders" and meta["subjects"] == ["macro01", "macro02", "macro03"]
    assert meta["covers"] == ["action.", "position."] and meta["model_options"]["width"] == 4
    assert all(k.startswith(("action.", "position.")) for k in read_tensors(path))


def test_resume_continues_where_it_stopped(corpus, tmp_path):
    straight = run(corpus, tmp_path / "straight", epochs=3)
    run(corpus, tmp_path / "resumed", epochs=2)
    assert checkpoint_meta(tmp_path / "resumed" / STATE)["epoch"] == 2
    resumed = run(corpus, tmp_path / "resumed", epochs=3)
    assert checkpoint_meta(resumed)["losses"] == checkpoint_meta(straight)["losses"]
    a, b = read_tensors(straight), read_tensors(resumed)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    with pytest.raises(ConfigError, match="another configuration"):
        run(corpus, tmp_path / "resumed", epochs=3, gap=(1, 1))


def test_a_stopped_run_leaves_no_final_checkpoint(corpus, tmp_path):
    class Stopped(Exception):
        pass

    def stop_after_epoch_1(epoch, epochs, loss):
        if epoch == 1:
            raise Stopped

    with pytest.raises(Stopped):
        run(corpus, tmp_path, epochs=2, progress=stop_after_epoch_1)
    assert checkpoint_meta(tmp_path / STATE)["epoch"] == 1 and not (tmp_path / FINAL).exists()
    assert checkpoint_meta(run(corpus, tmp_path, epochs=2))["epochs_done"] == 2
    with pytest.raises(ConfigError, match="already holds 2 epochs.*pass --epochs 2 or more"):
        run(corpus, tmp_path, epochs=1)


def test_resume_state_holds_what_pre_training_trains_and_a_foreign_one_is_refused(corpus, tmp_path):
    run(corpus, tmp_path, epochs=1)
    tensors = read_tensors(tmp_path / STATE)
    # fusion is fine-tuning's: no gate however MIACNet's default fuses (a state made before the
    # default became gate resumes today)
    assert create_model("miacnet", 5, **TINY).gate is not None
    assert not any(k.startswith("model/net.gate.") for k in tensors)
    del tensors["model/net.action.trunk.net.conv_act.0.weight"]
    save_checkpoint(tmp_path / STATE, tensors, checkpoint_meta(tmp_path / STATE))
    with pytest.raises(ConfigError, match=r"does not fit this version's pre-training network \(.*net\.action"
                                          r".*\); pass another --out to start over"):
        run(corpus, tmp_path, epochs=2)


def test_round_trip_into_miacnet(corpus, tmp_path):
    path = run(corpus, tmp_path, epochs=1)
    model = create_model("miacnet", 5, **TINY)
    report = load_pretrained(model, path)
    tensors = read_tensors(path)
    assert len(report.loaded) == len(tensors) and not report.missing
    assert torch.equal(
        model.state_dict()["action.trunk.net.conv_act.0.weight"],
        tensors["action.trunk.net.conv_act.0.weight"],
    )


def test_mismatched_checkpoint_lists_keys_unless_partial(corpus, tmp_path):
    path = run(corpus, tmp_path, epochs=1)
    wider = create_model("miacnet", 5, width=8)
    with pytest.raises(CheckpointError) as error:
        load_pretrained(wider, path)
    assert "action.trunk.net.conv_act.0.weight (11, 3, 3, 3) vs (22, 3, 3, 3)" in str(error.value)
    no_position = create_model("miacnet", 5, width=4, position=False)
    with pytest.raises(CheckpointError, match=r"not in the model \(29\): position\.blocks"):
        load_pretrained(no_position, path)
    report = load_pretrained(no_position, path, allow_partial=True)
    assert report.unexpected and all(k.startswith("position.") for k in report.unexpected)
    assert report.loaded and all(k.startswith("action.") for k in report.loaded)


def test_pretrained_option_resolution():
    assert pretrained_for("miacnet", {"init": "scratch"}, None) == (None, {"init": "scratch"})
    assert pretrained_for("miacnet-ma2mi", {"init": "ma2mi"}, None)[0] == "ma2mi-synth-macro"
    assert pretrained_for("miacnet", {"init": "scratch"}, "ma2mi-synth-macro")[1] == {"init": "ma2mi"}
    with pytest.raises(ConfigError, match="needs --pretrained"):
        pretrained_for("miacnet", {"init": "ma2mi"}, None)
    with pytest.raises(ConfigError, match="conflicts with option init=imagenet"):
        pretrained_for("miacnet", {"init": "imagenet"}, "ma2mi-synth-macro")
    with pytest.raises(CheckpointError, match="no such file"):
        pretrained_for("miacnet", {"init": "scratch"}, "nowhere.safetensors")


def test_gap_parsing():
    assert parse_gap("1-4") == (1, 4) and parse_gap("2") == (2, 2)
    with pytest.raises(ConfigError):
        MA2MIConfig(gap=parse_gap("3-1"))
    with pytest.raises(ConfigError):
        parse_gap("a-b")


def test_excluding_subjects_shared_with_an_eval_dataset(corpus, tmp_path, monkeypatch):
    entry = MACRO.get("macro-folders")
    monkeypatch.setitem(
        MACRO._entries,
        "macro-folders",
        type(entry)(**{**entry.__dict__, "meta": {**entry.meta, "same_subjects_as": ("samm",)}}),
    )
    path = pretrain_ma2mi(
        "macro-folders",
        out=tmp_path,
        data_root=corpus,
        model_options=TINY,
        config=MA2MIConfig(epochs=1, input_size=32),
        exclude_subjects_of={"samm": ["macro02", "s99"], "casme2": ["macro03"]},
    )
    meta = checkpoint_meta(path)
    assert meta["excluded_subjects"] == ["macro02"] and meta["subjects"] == ["macro01", "macro03"]


def test_pretrain_cli_then_bench_with_allow_partial(corpus, tmp_path):
    runner = CliRunner()
    out = cache_home() / "pretrained" / f"cli-{tmp_path.name}"  # in the cache: recorded portably
    result = runner.invoke(
        app,
        [
            "pretrain",
            "ma2mi",
            "--dataset",
            "macro-folders",
            "--data-root",
            str(corpus),
            "--epochs",
            "2",
            "--gap",
            "1-2",
            "--opt",
            "width=4",
            "--input-size",
            "48",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "epoch   2/2" in result.output and (out / FINAL).is_file()
    meta = checkpoint_meta(out / FINAL)
    assert meta["config"]["input_size"] == 48 and meta["device"] == "cpu"
    bench = [
        "bench",
        "miacnet",
        "--protocol",
        "holdout",
        "--epochs",
        "1",
        "--input-size",
        "64",
        "--device",
        "cpu",
        "--opt",
        "width=4",
        "--opt",
        "position=off",
        "--pretrained",
        str(out / FINAL),
        "--out",
        str(tmp_path / "results"),
    ]
    refused = runner.invoke(app, bench)
    assert isinstance(refused.exception, CheckpointError) and "not in the model (29): position." in str(
        refused.exception
    )
    result = runner.invoke(app, [*bench, "--allow-partial"])
    assert result.exit_code == 0, result.output
    assert "--allow-partial: loaded" in result.output
    [path] = (tmp_path / "results").glob("*.json")
    recorded = json.loads(path.read_text())
    pretraining = recorded["pretraining"]
    assert recorded["model"]["options"]["init"] == "ma2mi"
    assert pretraining["corpus"] == "macro-folders" and len(pretraining["sha256"]) == 64
    assert pretraining["subjects_overlap_eval"] == [] and pretraining["load"]["unexpected"]
    assert pretraining["path"] == pretraining["name"] == f"$ZOO_CACHE/pretrained/{out.name}/{FINAL}"


def test_recorded_checkpoint_paths_name_the_cache_not_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "mine"))
    inside = tmp_path / "mine" / "pretrained" / "ma2mi-x" / FINAL
    outside = tmp_path / "elsewhere" / FINAL
    assert portable_path(inside) == f"$ZOO_CACHE/pretrained/ma2mi-x/{FINAL}"
    assert portable_path(outside) == str(outside)  # a user's own file is recorded as given
    assert local_path(portable_path(inside)) == inside and local_path(str(outside)) == outside
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "theirs"))  # the same record on another machine
    assert local_path(f"$ZOO_CACHE/pretrained/ma2mi-x/{FINAL}") == tmp_path / "theirs" / "pretrained" / "ma2mi-x" / FINAL


def test_recipe_checkpoint_is_made_once_per_trunk_not_per_fine_tuning_option(tmp_path, monkeypatch):
    """The recipe cache is keyed on the options MA2MI pre-trains (its ``trunk_options``): a run
    with another fusion or dropout reuses the checkpoint, another width makes its own."""
    from types import SimpleNamespace

    import zoo.pretrain.checkpoints as checkpoints
    from registry import PRETRAINERS
    from registry.options import model_options

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    made = []

    def pretrainer(corpus, out, model_options, config, device):
        assert device == "cpu"  # the run's own device
        made.append(model_options)
        out.mkdir(parents=True)
        (out / FINAL).write_bytes(b"weights")
        return out / FINAL

    ma2mi = PRETRAINERS.get("ma2mi")
    assert set(ma2mi.meta["trunk_options"]) == {"backbone", "width", "diff", "position"}
    fake = SimpleNamespace(get=lambda name: SimpleNamespace(obj=pretrainer, meta=ma2mi.meta))
    monkeypatch.setattr(checkpoints, "PRETRAINERS", fake)

    def file_for(**given):
        options = model_options("miacnet-ma2mi", given)
        return checkpoints.checkpoint_file("ma2mi-synth-macro", options, lambda _: None, device="cpu")

    first = file_for(width="16", fusion="sum")
    assert file_for(width="16", fusion="gate", drop_rate="0.2") == first and len(made) == 1
    assert file_for(width="8").parent != first.parent and len(made) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_pretrain_on_cuda_without_cuda_is_refused(corpus, tmp_path):
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        run(corpus, tmp_path, epochs=1, device="cuda")
