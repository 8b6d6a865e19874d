"""The ``zoo`` command as a user runs it: one clean line and exit code 2 for mistakes."""

import json
import subprocess
import sys

import pytest


def zoo(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-c", "from zoo.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["bench", "flow_resnet81"], "unknown model 'flow_resnet81'. Did you mean: flow_resnet18"),
        (["bench", "flow_resnet18", "--epochs", "0"], "--epochs must be a positive integer"),
        (["bench", "flow_resnet18", "--batch-size", "-2"], "--batch-size must be a positive integer"),
        (["bench", "flow_resnet18", "--classes", "7"], "--classes 7 is not supported"),
        (["bench", "flow_resnet18", "--precision", "fp16"], "--precision must be one of fp32, bf16"),
        (["bench", "ststnet", "--order", "random"], "--order must be one of shuffled, by-class, not random"),
        (["bench", "flow_resnet18", "--dataset", "casme2", "--data-root", "/nope"], "not found at"),
        (["bench", "flow_resnet18", "--dataset", "casme2"], "licence-restricted"),
        (["info", "nosuchthing"], "unknown entry 'nosuchthing'"),
        (["list", "modelz"], "unknown kind 'modelz'"),
        (["pretrain", "ma2mi", "--input-size", "40"], "ma2mi input_size must be a multiple of 16, at least 32"),
        (["pretrain", "ma2mi", "--device", "tpu"], "--device must be cpu, cuda or auto, not tpu"),
        (["pretrain", "ma2mi", "--opt", "width=abc"], "option width=abc: expected an integer"),
        (["pretrain", "ma2mi", "--dataset", "synth-makro"], "unknown macro 'synth-makro'. Did you mean: synth-macro"),
        # brackets in a message are printed, not read as markup
        (["bench", "ststnet", "--executor", "ray", "--ray-address", "127.0.0.1:1"], 'pip install "mer-zoo[ray]"'),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(tmp_path, args, message, monkeypatch):
    monkeypatch.delenv("ZOO_DATA_ROOT", raising=False)
    run = zoo(*args, "--out", str(tmp_path / "r")) if args[0] == "bench" else zoo(*args)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    if args[0] == "pretrain":  # settings are checked before the run is announced
        assert not run.stdout.strip()
    assert not (tmp_path / "r").exists()


def test_list_and_info():
    listing = zoo("list", "models")
    assert listing.returncode == 0 and "flow_resnet18" in listing.stdout
    info = zoo("info", "flow_resnet18")
    assert "11,179,077" in info.stdout and "He, K." in info.stdout
    assert "resnet18" in zoo("list", "backbones", "resnet1*").stdout


def test_bench_then_leaderboard(tmp_path):
    run = zoo(
        "bench",
        "flow_resnet18",
        "--protocol",
        "holdout",
        "--epochs",
        "1",
        "--input-size",
        "32",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    assert "pooled" in run.stdout and "result written to" in run.stdout
    board = zoo("leaderboard", "--results", str(tmp_path), "--markdown")
    assert board.returncode == 0 and "| flow\\_resnet18 | default | none |" in board.stdout, board.stderr
    assert zoo("leaderboard", "--check", "--results", str(tmp_path)).returncode == 0


def test_info_json_of_a_model():
    info = json.loads(zoo("info", "timm-flow", "--json").stdout)
    assert (info["name"], info["kind"], info["num_classes"], info["num_parameters"]) == (
        "timm-flow", "model", 5, 11_179_077)
    assert info["options"] == {"backbone": "resnet18", "drop_rate": 0.2, "pool": 2}
    assert info["inputs"] == {"keys": ["flow"], "size": None, "flow": None, "scaling": "standard"}
    assert info["defaults"]["input_size"] == 112 and info["summary"].startswith("Any timm CNN")
    assert info["default_sources"] == {} and info["reported"] == []


def test_info_json_serializes_reported_figures_and_default_classes():
    from registry import MODELS, Entry
    from registry.reported import Reported
    from zoo.cli.catalog import entry_json

    row = Reported("megc2019", "megc2019-3", "loso", "Liong et al. 2019, Table 2", uf1=0.735, uar=0.761,
                   part="samm", selection="test-subject-best")
    base = MODELS.get("flow_resnet18")
    entry = Entry(base.name, "model", base.obj, meta={"reported": (row,), "default_classes": 3,
                                                "default_sources": {"lr": "paper, Sec. 4"}})
    info = entry_json("models", entry)
    assert info["reported"] == [row.to_dict()] and info["reported"][0]["uf1"] == 0.735
    assert info["default_sources"] == {"lr": "paper, Sec. 4"}
    # a 3-class head instead of 5: two fewer rows of 512 weights and biases
    assert (info["num_classes"], info["num_parameters"]) == (3, 11_179_077 - 2 * 513)
    json.dumps(info)
