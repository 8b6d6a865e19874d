"""MIACNet: shapes, sizes, every ablation switch, gradients, init, heat maps, the CLI path."""

from __future__ import annotations

import json

import cv2
import pytest
import timm
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from registry import MODELS
from registry.errors import CheckpointError, ConfigError
from zoo.cli import app
from zoo.models import count_parameters, create_model, forward_flops


def pair(size: int, batch: int = 2) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"onset": torch.randn(batch, 3, size, size), "apex": torch.randn(batch, 3, size, size)}


@pytest.mark.parametrize("size, grid", [(112, 7), (224, 14)])
def test_maps_and_logits_at_112_and_224(size, grid):
    model = create_model("miacnet", 5, width=8).eval()
    maps = model.features(**pair(size))
    assert maps["action"].shape == maps["position"].shape == (2, 64, grid, grid)
    assert model(**pair(size)).shape == (2, 5)


def test_paper_size_parameters_and_flops():
    model = create_model("miacnet", 5)
    assert model.fusion == "gate"  # the default the synth-v2 evidence chose
    assert count_parameters(model) == MODELS.get("miacnet").meta["parameters_5_classes"] == 9_063_034
    # MMNet's trunk and PC module (tests/test_mmnet.py), the gate (1x1 conv 512 -> 1), a head
    # on the 7x7-pooled map
    assert count_parameters(model.action) == 2_528_884 and count_parameters(model.position) == 6_408_192
    assert count_parameters(model.gate) == 512 + 1 and count_parameters(model.head) == 512 * 49 * 5 + 5
    # FLOPs: the same in torch 2.4, 2.14 and 2.15 since attention is computed explicitly
    # (test_mmnet.py); the gate adds its 1x1 conv on the 14x14 map, 2 * 512 * 196
    assert forward_flops(model, 224) == 14_422_605_904 + 2 * 512 * 196
    assert forward_flops(create_model("miacnet", 5, fusion="sum"), 224) == 14_422_605_904
    small = create_model("miacnet", 5, width=16)
    assert count_parameters(small) == 614_095 and forward_flops(small, 112) == 231_183_764


def test_resnet18_cbam_is_the_former_trunk():
    model = create_model("miacnet", 5, backbone="resnet18_cbam")
    assert count_parameters(model.action) == 11_283_584  # as pinned before mmnet_ca became the default
    assert model.features(**pair(112))["action"].shape == (2, 512, 7, 7)


def test_registered_defaults_are_the_papers_recipe():
    defaults = dict(MODELS.get("miacnet").defaults)
    assert defaults == {
        "epochs": 74,
        "batch_size": 32,
        "lr": 8e-4,
        "weight_decay": 0.6,
        "optimizer": "adamw",
        "lr_decay": 0.987,
        "lr_decay_epochs": 50,
        "input_size": 224,
    }
    assert "2405.16451" in MODELS.get("miacnet").citation


def test_position_off_drops_the_branch_and_uses_action_only():
    with_position = create_model("miacnet", 5, width=8)
    model = create_model("miacnet", 5, width=8, position=False).eval()
    assert model.position is None and model.fusion == "none"
    # without a position map there is nothing to gate: the branch and the gate both go
    assert model.gate is None
    assert count_parameters(with_position) - count_parameters(model) == count_parameters(
        with_position.position
    ) + count_parameters(with_position.gate)
    maps = model.features(**pair(112))
    assert set(maps) == {"action", "fused"} and maps["fused"] is maps["action"]


def test_pixel_and_feature_difference_compute_what_they_claim():
    x = pair(112)
    pixel = create_model("miacnet", 5, width=8, diff="pixel").eval()
    trunk = pixel.action.trunk
    assert torch.allclose(pixel.action(**x), trunk(x["apex"] - x["onset"]))
    feature = create_model("miacnet", 5, width=8, diff="feature").eval()
    trunk = feature.action.trunk
    assert torch.allclose(feature.action(**x), trunk(x["apex"]) - trunk(x["onset"]), atol=1e-5)
    assert count_parameters(pixel) == count_parameters(feature)  # same weights, other input


@pytest.mark.parametrize("fusion", ["sum", "gate", "concat"])
def test_fusions(fusion):
    model = create_model("miacnet", 5, width=8, fusion=fusion).eval()
    maps = model.features(**pair(112))
    if fusion == "sum":
        assert torch.allclose(maps["fused"], maps["action"] + maps["position"])
    elif fusion == "gate":
        assert maps["gate"].shape == (2, 1, 7, 7) and 0 <= maps["gate"].min() <= maps["gate"].max() <= 1
        assert torch.allclose(maps["fused"], maps["action"] * maps["gate"])
    else:
        assert maps["fused"].shape[1] == 2 * maps["action"].shape[1]
    assert model.head[-1].in_features == maps["fused"].shape[1] * 49


@pytest.mark.parametrize("options", [{}, {"fusion": "gate"}, {"diff": "feature"}])
def test_gradient_reaches_both_branches(options):
    model = create_model("miacnet", 5, width=8, **options)
    model(**pair(112)).sum().backward()
    for branch in (model.action, model.position):
        grads = [p.grad for p in branch.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_timm_backbone_is_selectable():
    model = create_model("miacnet", 5, backbone="resnet18").eval()
    assert model.action.channels == 512  # resnet18 with its last stage dilated: stride 16
    assert model.features(**pair(112))["action"].shape == (2, 512, 7, 7)
    assert model(**pair(112)).shape == (2, 5)


def test_bad_options_are_config_errors():
    for options in (
        {"fusion": "mean"},
        {"diff": "flow"},
        {"init": "coco"},
        {"width": 2},
        {"weights": "x.safetensors"},
    ):
        with pytest.raises(ConfigError):
            create_model("miacnet", 5, **options)


def test_imagenet_init_from_a_local_file(tmp_path):  # from timm's Hub weights: test_hub.py
    with pytest.raises(ConfigError, match="no ImageNet weights"):
        create_model("miacnet", 5, init="imagenet", weights=str(tmp_path / "w.safetensors"))
    source = timm.create_model("resnet18")  # stands in for ImageNet weights: same keys, fc included
    save_file(source.state_dict(), str(tmp_path / "resnet18.safetensors"))
    model = create_model(
        "miacnet", 5, init="imagenet", backbone="resnet18", weights=str(tmp_path / "resnet18.safetensors")
    )
    assert torch.equal(model.action.trunk.net.conv1.weight, source.conv1.weight)
    save_file({"conv1.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match="missing"):
        create_model(
            "miacnet", 5, init="imagenet", backbone="resnet18", weights=str(tmp_path / "bad.safetensors")
        )


def test_attention_maps_are_unit_range_heat_maps():
    for fusion in ("sum", "gate"):
        maps = create_model("miacnet", 5, width=8, fusion=fusion).eval().attention_maps(**pair(112))
        assert set(maps) == {"action", "position"}
        for heat in maps.values():
            assert heat.shape == (2, 7, 7) and heat.min() >= 0 and heat.max() <= 1


def test_info_prints_parameters_and_flops():
    result = CliRunner().invoke(app, ["info", "miacnet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "9,063,034" in result.output and "FLOPs per clip (224 px)" in result.output
    assert "14.42 G" in result.output


def test_bench_cli_records_switches(tmp_path):
    result = CliRunner().invoke(
        app,
        [
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
            "--opt",
            "diff=feature",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("miacnet__synth__*.json")
    recorded = json.loads(path.read_text())
    assert recorded["model"]["options"]["position"] is False
    assert recorded["model"]["options"]["diff"] == "feature"
    assert recorded["model"]["options"]["init"] == "scratch" and recorded["pretraining"] is None


def test_explain_writes_heat_map_pngs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
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
            "fusion=gate",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("miacnet__synth__*.json")
    clip = json.loads(path.read_text())["folds"][0]["samples"][0]["clip"]
    result = runner.invoke(app, ["explain", "miacnet", str(path), clip, "--out", str(tmp_path / "maps")])
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name.rsplit("-", 1)[1] for p in (tmp_path / "maps").glob("*.png"))
    assert pngs == ["action.png", "position.png"]
    assert cv2.imread(str(next((tmp_path / "maps").glob("*position.png")))).shape == (64, 64, 3)
