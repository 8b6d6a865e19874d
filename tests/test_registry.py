import subprocess
import sys

import pytest
import torch

from benchmarks.records import PREPARED_CHANNELS
from registry import CLASS_SETS, DATASETS, KINDS, MODELS, PROTOCOLS, Registry
from registry.errors import DuplicateNameError, UnknownNameError
from zoo.backbones import create_backbone
from registry.options import model_options
from zoo.models import count_parameters, create_model


def test_register_get_list_and_glob():
    reg = Registry("widget")

    @reg.register(citation="Doe 2020", defaults={"lr": 0.1}, size=3)
    def small_widget():
        """A small widget."""

    reg.add("large_widget", object(), summary="big")
    assert reg.names() == ["large_widget", "small_widget"]
    assert reg.names("small*") == ["small_widget"]
    entry = reg.get("small_widget")
    assert (entry.summary, entry.citation, entry.defaults["lr"], entry.meta["size"]) == (
        "A small widget.",
        "Doe 2020",
        0.1,
        3,
    )
    with pytest.raises(DuplicateNameError):
        reg.add("large_widget", object())


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError) as err:
        MODELS.get("flow_resnet81")
    assert "flow_resnet18" in err.value.suggestions
    assert str(err.value).startswith("unknown model 'flow_resnet81'. Did you mean: flow_resnet18")


def test_fresh_process_sees_every_entry():
    """No entry may depend on which module happened to be imported first."""
    code = "from registry import KINDS; print({k: len(r.names()) for k, r in KINDS.items()})"
    counts = eval(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert counts == {k: len(r.names()) for k, r in KINDS.items()}
    assert counts["models"] >= 2 and counts["datasets"] >= 2 and counts["protocols"] >= 2


def test_every_dataset_names_registered_class_sets():
    for name in DATASETS.names():
        for class_set in DATASETS.get(name).meta["class_sets"].values():
            assert class_set in CLASS_SETS
    assert set(PROTOCOLS.names()) >= {"loso", "holdout"}


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_runs_forward_and_backward(name):
    """Coverage of the registry: a registered model cannot land untested."""
    model = create_model(name, num_classes=5)
    size = model.inputs.size or MODELS.get(name).defaults.get("input_size", 112)
    torch.manual_seed(0)
    inputs = {key: torch.randn(2, PREPARED_CHANNELS[key], size, size) for key in model.inputs.keys}
    logits = model(**inputs)
    assert logits.shape == (2, 5)
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_baseline_parameter_count_is_resnet18_with_5_classes():
    model = create_model("flow_resnet18", num_classes=5)
    # torchvision/timm ResNet-18: 11,689,512 with 1000 classes; the head shrinks to 5 outputs
    assert count_parameters(model) == 11_689_512 - 512 * 995 - 995


def test_model_options_are_checked_and_typed():
    assert model_options("flow_resnet18", {"drop_rate": "0.5"})["drop_rate"] == 0.5
    with pytest.raises(Exception, match="has no option 'depth'"):
        model_options("flow_resnet18", {"depth": "3"})


def test_backbones_resolve_any_timm_name_and_suggest():
    net = create_backbone("convnext_atto", num_classes=3)
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    with pytest.raises(UnknownNameError, match="resnet18"):
        create_backbone("resnet18x")
