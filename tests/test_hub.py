"""``zoo push`` / ``zoo pull`` / ``--pretrained hf:`` / timm's ImageNet weights, against a
Hub on 127.0.0.1 (fixtures/hub_server.py) with the stock huggingface_hub client.

The client runs as on a user's machine: in fresh processes configured by environment only
(HF_ENDPOINT, HF_HOME, HF_TOKEN, HF_HUB_OFFLINE). Steps sharing a configuration share a
process (fixtures/zoo_steps.py): publishing, pulling online, pulling offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import timm
import torch
from fixtures.hub_server import LoopbackHub
from fixtures.predictions import assert_same_predictions
from huggingface_hub import ModelCard
from safetensors.torch import load_file, save

from benchmarks.macro.synth_macro import MACRO_CONFIG, write_corpus
from benchmarks.synthetic import SynthConfig
from leaderboard.store import read_result, weights_dir
from registry.checkpoints import check_row
from registry.errors import ConfigError
from zoo.hub import card
from zoo.hub.repo import local_publication
from zoo.pretrain.ma2mi import FINAL, MA2MIConfig, pretrain_ma2mi

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "fixtures" / "zoo_steps.py"
TOKEN = "hf_alice_0123456789abcdef"  # must never appear in output or in any file
TIMM_REPO = "timm/test_resnet.r160_in1k"  # where timm fetches test_resnet's ImageNet weights


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run_steps(endpoint: str, hf_home: Path, steps: dict[str, dict], **env: str) -> dict[str, dict]:
    """Run named steps in one fresh process configured like a user's machine."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    environment.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        COLUMNS="200",
        **env,
    )
    with tempfile.TemporaryDirectory() as scratch:  # the steps name the token: keep them out of hf_home
        plan, results = Path(scratch, "steps.json"), Path(scratch, "results.json")
        plan.write_text(json.dumps(list(steps.values())))
        command = [sys.executable, str(DRIVER), str(plan), str(results)]
        done = subprocess.run(command, env=environment, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return dict(zip(steps, json.loads(results.read_text())))


def zoo(*args: str, **env: str | None) -> dict:
    return {"zoo": list(args), "env": env}


def one_line_error(step: dict, message: str) -> None:
    assert step["code"] == 2, step
    assert message in step["stderr"] and "Traceback" not in step["stderr"], step["stderr"]
    assert len(step["stderr"].strip().splitlines()) == 1, step["stderr"]


@pytest.fixture(scope="module")
def hub():
    server = LoopbackHub({TOKEN: "alice", "hf_bob_token": "bob"})
    yield server
    server.close()


@pytest.fixture(scope="module")
def pretrainings(tmp_path_factory):
    """Two versions of one tiny MA2MI pre-training (1 and 2 epochs) on a small macro corpus."""
    root = tmp_path_factory.mktemp("ma2mi")
    small = {"subjects": 2, "clips_per_subject": (2, 2), "frame_size": 48, "frames_per_clip": (8, 8)}
    corpus = write_corpus(SynthConfig(**{**MACRO_CONFIG.to_dict(), **small}), root / "corpus")

    def pretrain(out: Path, epochs: int) -> Path:
        config = MA2MIConfig(epochs=epochs, input_size=32, batch_size=8)
        return pretrain_ma2mi(
            "macro-folders", out=out, config=config, model_options={"width": 4}, data_root=corpus
        )

    first = pretrain(root / "v1", 1).parent
    shutil.copytree(first, root / "v2")
    return first, pretrain(root / "v2", 2).parent  # resumed: one more epoch


@pytest.fixture(scope="module")
def published(hub, saved_run, pretrainings, tmp_path_factory):
    v1, v2 = pretrainings
    run = str(saved_run)
    return run_steps(
        hub.url,
        tmp_path_factory.mktemp("publisher") / "hf",
        {
            "run": zoo("push", run, "--repo", "alice/run"),
            "v1": zoo("push", str(v1), "--repo", "alice/ma2mi", "-m", "first"),
            "v2": zoo("push", str(v2 / FINAL), "--repo", "alice/ma2mi", "--revision", "v2"),
            "private": zoo("push", str(v1), "--repo", "alice/secret", "--private"),
            "wrong token": zoo("push", run, "--repo", "alice/x", HF_TOKEN="hf_wrong"),
            "no token": zoo("push", run, "--repo", "alice/x", HF_TOKEN=None),
            "foreign namespace": zoo("push", run, "--repo", "bob/x"),
            "not a checkpoint": zoo("push", str(saved_run.parent / "nothing"), "--repo", "alice/x"),
        },
        HF_TOKEN=TOKEN,
    )


@pytest.fixture(scope="module")
def served(hub, published, pretrainings):
    """Repos the write routes would not make: foreign, broken, tampered; timm's weights."""
    config = json.loads(hub.files("alice/run")["config.json"])
    run_files = {k: v for k, v in hub.files("alice/run").items() if k != ".gitattributes"}
    hub.put("alice/plain", {"README.md": b"# a model of another library\n"})
    hub.put("alice/alien", {"config.json": json.dumps({**config, "model": "nosuchnet"}).encode()})
    holey = {**config, "files": {**config["files"], "weights/missing.safetensors": {"sha256": "0" * 64}}}
    hub.put("alice/holey", {**run_files, "config.json": json.dumps(holey).encode()})
    hub.put("alice/hidden", run_files, private=True)
    hub.put("alice/tampered", run_files)
    hub.tamper("alice/tampered", "weights/holdout.safetensors", b"\0" * 64)
    v1_bytes = (pretrainings[0] / FINAL).read_bytes()
    pinned = hub.put("alice/pinned", {"model.safetensors": v1_bytes})
    hub.tamper("alice/pinned", "model.safetensors", v1_bytes[:-1] + b" ")
    torch.manual_seed(0)
    imagenet = timm.create_model("test_resnet").state_dict()
    hub.put(TIMM_REPO, {"model.safetensors": save(imagenet)}, owner="timm")
    return {"imagenet": imagenet, "pinned": pinned, "v1": hub.repos["alice/ma2mi"].branches["main"]}


def row(name: str, repo: str, revision: str, digest: str) -> str:
    """Python that registers a published-checkpoint row in the step process."""
    fields = dict(
        model="miacnet",
        repo=repo,
        revision=revision,
        file="model.safetensors",
        sha256=digest,
        license="other",
    )
    return f"from registry.checkpoints import publish; publish({name!r}, {fields!r})\n"


@pytest.fixture(scope="module")
def pulled(hub, served, pretrainings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("puller")
    v1_digest = sha256((pretrainings[0] / FINAL).read_bytes())
    imagenet = (
        "from safetensors.torch import save_file; from zoo.models import create_model\n"
        "net = create_model('miacnet', 5, backbone='test_resnet', init='imagenet')\n"
        f"save_file(net.action.trunk.net.state_dict(), {str(folder / 'trunk.safetensors')!r})"
    )
    rows = row("hub-test", "alice/ma2mi", served["v1"], v1_digest) + row(
        "hub-pinned", "alice/pinned", served["pinned"], v1_digest
    )
    finetune = ["--opt", "width=4", "--protocol", "holdout", "--epochs", "1", "--input-size", "32"]
    steps = {
        "wrong token": zoo("pull", "alice/hidden", HF_TOKEN="hf_wrong"),
        "private": zoo("pull", "alice/hidden"),
        "private with token": zoo("pull", "alice/secret", HF_TOKEN=TOKEN),
        "run": zoo("pull", "alice/run"),
        "v1": zoo("pull", f"alice/ma2mi@{served['v1']}"),
        "v2": zoo("pull", "hf:alice/ma2mi@v2"),
        "main": zoo("pull", "alice/ma2mi"),
        "missing repo": zoo("pull", "nobody/nothing"),
        "missing revision": zoo("pull", "alice/ma2mi@nope"),
        "not mer-zoo": zoo("pull", "alice/plain"),
        "unknown model": zoo("pull", "alice/alien"),
        "missing file": zoo("pull", "alice/holey"),
        "tampered": zoo("pull", "alice/tampered"),
        "register rows": {"python": rows},
        "row": zoo("pull", "hub-test"),
        "tampered row": zoo("pull", "hub-pinned"),
        "finetune": zoo(
            "bench", "miacnet", "--pretrained", "hf:alice/ma2mi@v2", *finetune, "--out", str(folder)
        ),
        "finetune from a run": zoo(
            "bench", "miacnet", "--pretrained", "hf:alice/run", *finetune, "--out", str(folder / "refused")
        ),
        "finetune from another library": zoo(
            "bench", "miacnet", "--pretrained", "hf:alice/plain", *finetune, "--out", str(folder / "refused")
        ),
        "imagenet": {"python": imagenet},
    }
    return {"steps": run_steps(hub.url, folder / "hf", steps), "home": folder / "hf", "folder": folder}


@pytest.fixture(scope="module")
def offline(hub, pulled):
    imagenet = (
        "from zoo.models import create_model\ncreate_model('miacnet', 5, backbone={!r}, init='imagenet')"
    )
    steps = {
        "run": zoo("pull", "alice/run"),
        "v2": zoo("pull", "alice/ma2mi@v2"),
        "never pulled": zoo("pull", "alice/plain"),
        "imagenet cached": {"python": imagenet.format("test_resnet")},
        "imagenet not cached": {"python": imagenet.format("resnet18")},
    }
    return run_steps(hub.url, pulled["home"], steps, HF_HUB_OFFLINE="1")


def cached(home: Path, repo_id: str) -> bool:
    name = "models--" + repo_id.replace("/", "--")
    return (home / "hub" / name).exists() or (home / "hub" / ".locks" / name).exists()


def test_push_makes_one_commit_with_the_repo_layout(hub, published, saved_run, pretrainings):
    for name in ("run", "v1", "v2", "private"):
        assert published[name]["code"] == 0, published[name]
    run = hub.repos["alice/run"]
    assert len(run.history) == 2  # the repo's initial commit, then one per push
    files = hub.files("alice/run")
    assert set(files) == {
        ".gitattributes",
        "config.json",
        "README.md",
        "result.json",
        "weights/holdout.safetensors",
    }
    assert files["result.json"] == saved_run.read_bytes()
    assert (
        files["weights/holdout.safetensors"] == (weights_dir(saved_run) / "holdout.safetensors").read_bytes()
    )
    config = json.loads(files["config.json"])
    assert {k: v["sha256"] for k, v in config["files"].items()} == {
        k: sha256(v) for k, v in files.items() if k not in (".gitattributes", "config.json")
    }
    result = read_result(saved_run)
    assert (config["library_name"], config["kind"], config["model"], config["num_classes"]) == (
        "mer-zoo",
        "run",
        "miacnet",
        5,
    )
    assert (
        config["options"] == result["model"]["options"] and config["classes"] == result["dataset"]["classes"]
    )
    assert config["inputs"]["keys"] == ["onset", "apex"] and config["preprocessing"] == result["preprocess"]
    assert config["folds"]["holdout"]["test_subjects"] == result["folds"][0]["test_subjects"]
    ma2mi = hub.repos["alice/ma2mi"]
    assert len(ma2mi.history) == 3 and ma2mi.branches == {"main": ma2mi.history[1], "v2": ma2mi.history[2]}
    for revision, folder in zip(("main", "v2"), pretrainings):
        assert hub.files("alice/ma2mi", revision)["model.safetensors"] == (folder / FINAL).read_bytes()
    assert hub.repos["alice/secret"].private and not run.private
    assert f"commit {ma2mi.history[2]}" in published["v2"]["stdout"]


def test_the_token_is_never_printed_or_stored(hub, published, pulled):
    outputs = [s["stdout"] + s["stderr"] for s in [*published.values(), *pulled["steps"].values()]]
    assert all(TOKEN not in text for text in outputs)
    assert all(
        TOKEN.encode() not in data
        for repo in hub.repos.values()
        for c in repo.commits.values()
        for data in c.values()
    )
    stored = [p for home in (pulled["home"], pulled["folder"]) for p in home.rglob("*") if p.is_file()]
    assert stored and all(TOKEN.encode() not in p.read_bytes() for p in stored)


def test_model_card_has_the_model_index(hub, published, saved_run):
    result = read_result(saved_run)
    data = ModelCard(hub.files("alice/run")["README.md"].decode()).data
    assert (data.library_name, data.license, data.datasets, data.pipeline_tag) == (
        "mer-zoo",
        "mit",
        ["synth"],
        "video-classification",
    )
    assert {"mer-zoo", "micro-expression-recognition", "miacnet", "holdout"} <= set(data.tags)
    scores = {e.metric_type: e.metric_value for e in data.eval_results}
    assert scores == {k: round(result["metrics"][k], 4) for k in ("uf1", "uar", "accuracy")}
    assert {(e.dataset_type, e.dataset_config, e.dataset_split) for e in data.eval_results} == {
        ("synth", "casme2-5", "holdout")
    }
    pretraining = ModelCard(hub.files("alice/ma2mi")["README.md"].decode()).data
    assert pretraining.datasets == ["macro-folders"] and pretraining.license == "other"  # not mer-zoo's data
    assert {"pretraining", "ma2mi"} <= set(pretraining.tags) and not pretraining.eval_results


def test_card_escapes_strings_from_result_files(saved_run):
    publication = local_publication(saved_run)
    evil = "<script>alert(1)</script> [x](javascript:alert(1)) | cell\n# heading\n---\nlicense: stolen"
    result = json.loads(json.dumps(publication.result))
    result["model"]["options"]["fusion"] = evil
    result["dataset"]["classes"][0] = evil
    result["dataset"]["class_set"] = evil
    result["run_id"] = evil
    text = card.render(dataclasses.replace(publication, result=result), "alice/run", "mit")
    body = text.split("\n---\n", 1)[1]
    assert "<script" not in body and "](" not in body and "&lt;script&gt;" in body
    headings = [line for line in body.splitlines() if line.startswith("#")]
    assert headings == ["# run", "## Training", "## Use", "## Licence", "## Citation"]
    data = ModelCard(text).data  # the YAML stays valid and holds the value verbatim
    assert data.license == "mit" and data.eval_results[0].dataset_config == evil


@pytest.mark.parametrize(
    "step, message",
    [
        ("wrong token", "rejected the token (HF_TOKEN or `hf auth login`)"),
        ("no token", "this needs a Hugging Face token; run `hf auth login` or set HF_TOKEN"),
        ("foreign namespace", "bob/x: the token may not write there"),
        ("not a checkpoint", "neither a result file of `zoo bench --save-weights`, a model folder of `zoo train`, nor a "
                             "pre-training output"),
    ],
)
def test_push_errors_are_one_line_and_create_nothing(hub, published, step, message):
    one_line_error(published[step], message)
    assert "alice/x" not in hub.repos and "bob/x" not in hub.repos


def test_pull_then_rebuild_gives_the_recorded_predictions(hub, pulled):
    step = pulled["steps"]["run"]
    assert step["code"] == 0, step
    commit = hub.repos["alice/run"].branches["main"]
    folder = pulled["home"] / "hub" / "models--alice--run" / "snapshots" / commit
    assert f"commit {commit}" in step["stdout"] and f"in {folder}" in step["stdout"]
    assert "weights/holdout.safetensors: sha256" in step["stdout"]
    result = read_result(folder / "result.json")
    assert_same_predictions(folder / "weights" / "holdout.safetensors", result, result["folds"][0])


def test_revisions_pin_what_is_pulled(hub, pulled, served, pretrainings):
    steps, home = pulled["steps"], pulled["home"]
    ma2mi = hub.repos["alice/ma2mi"]
    for step, commit, folder in (
        ("v1", served["v1"], pretrainings[0]),
        ("v2", ma2mi.branches["v2"], pretrainings[1]),
        ("main", served["v1"], pretrainings[0]),
    ):
        assert steps[step]["code"] == 0 and f"commit {commit}" in steps[step]["stdout"], steps[step]
        pulled_file = home / "hub" / "models--alice--ma2mi" / "snapshots" / commit / "model.safetensors"
        assert pulled_file.read_bytes() == (folder / FINAL).read_bytes()
    assert steps["private with token"]["code"] == 0


def test_registered_checkpoint_rows_are_pinned_and_checked(pulled, served, pretrainings):
    steps = pulled["steps"]
    assert steps["register rows"]["code"] == 0, steps["register rows"]
    assert (
        steps["row"]["code"] == 0
        and f"alice/ma2mi@{served['v1']}/model.safetensors" in steps["row"]["stdout"]
    )
    one_line_error(steps["tampered row"], "differs from the published")
    assert not cached(pulled["home"], "alice/pinned")


def test_row_schema_is_checked():
    good = dict(
        model="miacnet",
        repo="org/name",
        revision="a" * 40,
        file="model.safetensors",
        sha256="b" * 64,
        license="mit",
    )
    assert check_row("ok", good) is good
    for bad in (
        {"revision": "main"},
        {"sha256": "abc"},
        {"file": "model.bin"},
        {"file": "../x.safetensors"},
        {"repo": ""},
    ):
        with pytest.raises(ConfigError, match="checkpoint row 'bad'"):
            check_row("bad", {**good, **bad})


@pytest.mark.parametrize(
    "step, repo, message",
    [
        ("wrong token", "alice/hidden", "rejected the token (HF_TOKEN or `hf auth login`)"),
        ("private", "alice/hidden", "alice/hidden: no such repository at http://127.0.0.1:"),
        (
            "missing repo",
            "nobody/nothing",
            "or it is private and no token is set (log in with `hf auth login`",
        ),
        ("missing revision", None, "alice/ma2mi@nope: no such branch, tag or commit"),
        ("not mer-zoo", "alice/plain", "alice/plain is not a mer-zoo checkpoint: it has no config.json"),
        ("unknown model", "alice/alien", "holds model 'nosuchnet', which this mer-zoo does not have"),
        ("missing file", "alice/holey", "/weights/missing.safetensors: no such file in the repository"),
        ("tampered", "alice/tampered", "/weights/holdout.safetensors: sha256"),
    ],
)
def test_pull_errors_are_one_line_and_leave_the_cache_as_it_was(pulled, step, repo, message):
    one_line_error(pulled["steps"][step], message)
    assert repo is None or not cached(pulled["home"], repo)


def test_fine_tuning_from_a_hub_pretraining(hub, pulled, pretrainings):
    step = pulled["steps"]["finetune"]
    assert step["code"] == 0, step["stderr"]
    [path] = pulled["folder"].glob("miacnet__synth__*.json")
    pretraining = read_result(path)["pretraining"]
    commit = hub.repos["alice/ma2mi"].branches["v2"]
    assert pretraining["source"] == {"repo": "alice/ma2mi", "revision": commit, "file": "model.safetensors"}
    assert pretraining["sha256"] == sha256((pretrainings[1] / FINAL).read_bytes())
    assert pretraining["load"]["loaded"] > 0 and not pretraining["load"]["missing"]


@pytest.mark.parametrize(
    "step, message",
    [
        ("finetune from a run", "hf:alice/run holds a finished run, not a pre-training checkpoint"),
        ("finetune from another library", "alice/plain is not a mer-zoo checkpoint"),
    ],
)
def test_fine_tuning_from_a_wrong_repo_writes_no_results(pulled, step, message):
    one_line_error(pulled["steps"][step], message)
    assert not (pulled["folder"] / "refused").exists()


def test_imagenet_init_loads_timms_hub_weights(pulled, served):
    assert pulled["steps"]["imagenet"]["code"] == 0, pulled["steps"]["imagenet"]
    trunk = load_file(pulled["folder"] / "trunk.safetensors")
    imagenet = served["imagenet"]
    assert set(trunk) == {k for k in imagenet if not k.startswith("fc.")}  # the head is not part of the trunk
    assert all(torch.equal(trunk[k], imagenet[k]) for k in trunk)


def test_offline_uses_the_cache_and_says_what_is_missing(offline):
    for step in ("run", "v2", "imagenet cached"):
        assert offline[step]["code"] == 0, offline[step]
    one_line_error(offline["never pulled"], "alice/plain is not in the Hugging Face cache")
    one_line_error(offline["imagenet not cached"], "timm/resnet18.a1_in1k/model.safetensors")
    assert all(
        "HF_HUB_OFFLINE is set" in offline[s]["stderr"] for s in ("never pulled", "imagenet not cached")
    )


def test_unreachable_hub_fails_a_push_at_once(saved_run, tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on
    endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    steps = run_steps(
        endpoint,
        tmp_path / "hf",
        {"push": zoo("push", str(saved_run), "--repo", "alice/run")},
        HF_TOKEN=TOKEN,
    )
    closed.close()
    one_line_error(steps["push"], f"cannot reach the Hub at {endpoint}")


@pytest.mark.slow
def test_unreachable_hub_fails_a_pull_after_the_clients_retries(tmp_path):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    steps = run_steps(endpoint, tmp_path / "hf", {"pull": zoo("pull", "alice/run")})
    closed.close()
    one_line_error(steps["pull"], f"cannot reach the Hub at {endpoint} for alice/run")
    assert not cached(tmp_path / "hf", "alice/run")
