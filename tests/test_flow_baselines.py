"""The optical-flow baselines (STSTNet, OFF-ApexNet, Dual-Inception, RCN, HTNet): exact sizes,
shapes, declared inputs, training recipes, published figures and the architecture details
that make each one the published network."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from benchmarks.records import PREPARED_CHANNELS, InputSpec
from zoo.bench.plan import HYPERPARAMETERS
from registry import CLASS_SETS, DATASETS, MODELS, PROTOCOLS
from registry.errors import ConfigError
from registry.reported import Reported
from zoo.engine.trainer import SELECTION_RULES
from zoo.models import count_parameters, create_model
from zoo.models.htnet import Attention, HTNet, block_centres, from_blocks, tile_blocks, to_blocks
from zoo.models.rcn import class_activation_attention
from zoo.models.ststnet import OfficialSTSTNet, STSTNet

BASELINES = ("ststnet", "off-apexnet", "dual-inception", "rcn", "htnet")

# Exact parameter counts at 3 and 5 classes; each extra class adds one head row (features + 1).
PARAMETERS = {
    # the official PyTorch STSTNet's 1,683: convs 3x3x3 -> 3, 5, 8 (84 + 140 + 224), their batch
    # norms (32), fc 5*5*16 = 400 -> C
    "ststnet": {3: 1_683, 5: 2_485},
    # per stream conv5x5 1 -> 6 (156) and 6 -> 16 (2,416), two streams; FC 1,568 -> 1,024
    # (1,606,656), 1,024 -> 1,024 (1,049,600), 1,024 -> C
    "off-apexnet": {3: 2_664_475, 5: 2_666_525},
    # per stream Inception block 1 (1 -> 4 x 6: 1,284) and block 2 (24 -> 4 x 16: 10,336), two
    # streams; FC 6,272 -> 1,024 (6,423,552), 1,024 -> C
    "dual-inception": {3: 6_449_867, 5: 6_451_917},
    # stem conv5x5 3 -> 64 (4,864) + BN (128); 1x1 (4,160) + BN; shared 3x3 (36,928) + BN;
    # classifier 7*7*64 = 3,136 -> C
    "rcn": {3: 55_747, 5: 62_021},
    # patch embedding 37,888; levels of 256 / 512 / 1024 channels with 2 / 2 / 10 layers of
    # 787,968 / 3,146,752 / 12,576,768 (+1 position each); aggregations 1,181,184 and
    # 4,721,664; final norm 2,048; head 1,024 -> C
    "htnet": {3: 139_582_982, 5: 139_585_032},
}


@pytest.fixture
def one_thread():
    """Small nets train many times faster on one thread than on two contended ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build_on_meta(name: str, num_classes: int) -> torch.nn.Module:
    """Sizes and shapes are structural: on the meta device HTNet's 140 M parameters cost nothing."""
    with torch.device("meta"):
        return create_model(name, num_classes)


def side(name: str, model: torch.nn.Module) -> int:
    return model.inputs.size or MODELS.get(name).defaults["input_size"]


@pytest.mark.parametrize("num_classes", [3, 5])
@pytest.mark.parametrize("name", BASELINES)
def test_exact_parameter_count_and_logits_shape(name, num_classes):
    model = build_on_meta(name, num_classes)
    assert count_parameters(model) == PARAMETERS[name][num_classes]
    size = side(name, model)
    with torch.device("meta"):
        inputs = {key: torch.empty(4, PREPARED_CHANNELS[key], size, size) for key in model.inputs.keys}
        assert model(**inputs).shape == (4, num_classes)


def test_ststnet_one_stream_form_is_the_release_three_streams():
    """The registered one-stream STSTNet draws the same initial weights as the release's three
    streams (and leaves the generator where they leave it), saves and loads the release's state
    dict, and computes the same logits and gradients from the same weights."""
    torch.manual_seed(7)
    release = OfficialSTSTNet(3, drop_rate=0.0)
    after_release = torch.rand(3)
    torch.manual_seed(7)
    fused = STSTNet(3, drop_rate=0.0)
    assert torch.equal(torch.rand(3), after_release)
    release_state, fused_state = release.state_dict(), fused.state_dict()
    assert list(fused_state) == list(release_state)
    assert all(torch.equal(fused_state[k], release_state[k]) for k in release_state)
    assert count_parameters(fused) == count_parameters(release) == 1_683

    generator = torch.Generator().manual_seed(1)
    flow, strain = torch.rand(16, 2, 28, 28, generator=generator), torch.rand(16, 1, 28, 28, generator=generator)
    labels = torch.arange(16) % 3
    for net in (release, fused):  # one training step's forward and backward from the same weights
        torch.nn.functional.cross_entropy(net(flow, strain), labels).backward()
    release_grads = {
        "conv.weight": torch.cat([stream[0].weight.grad for stream in release.streams]),
        "bn.weight": torch.cat([stream[2].weight.grad for stream in release.streams]),
        "fc.weight": release.fc.weight.grad,
    }
    for name, expected in release_grads.items():
        got = fused.get_parameter(name).grad
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())
    release_state, fused_state = release.state_dict(), fused.state_dict()
    for key in release_state:  # batch statistics: running mean and variance
        torch.testing.assert_close(fused_state[key], release_state[key], rtol=1e-4, atol=1e-5)
    release.eval(), fused.eval()
    torch.testing.assert_close(fused(flow, strain), release(flow, strain), rtol=1e-4, atol=1e-4)

    # each form loads the other's weights, and then both give the same logits
    other = OfficialSTSTNet(3).eval()
    other.load_state_dict(fused.state_dict())
    torch.testing.assert_close(other(flow, strain), fused(flow, strain), rtol=1e-5, atol=1e-5)
    again = STSTNet(3).eval()
    again.load_state_dict(release.state_dict())
    torch.testing.assert_close(again(flow, strain), release(flow, strain), rtol=1e-5, atol=1e-5)
    assert again.conv.weight.shape == (16, 3, 3, 3) and again.bn.running_mean.shape == (16,)


@pytest.mark.parametrize(
    "name, spec",
    [
        ("ststnet", InputSpec(("flow", "strain"), size=28, flow="tvl1", scaling="minmax")),
        ("htnet", InputSpec(("flow", "strain"), size=28, flow="tvl1", scaling="minmax")),
        ("off-apexnet", InputSpec(("flow",), size=28, flow="tvl1", scaling="minmax")),
        ("dual-inception", InputSpec(("flow",), size=28, flow="tvl1", scaling="minmax")),
        ("rcn", InputSpec(("flow", "magnitude"), size=None, flow=None, scaling="minmax")),
    ],
)
def test_registered_input_spec(name, spec):
    assert build_on_meta(name, 3).inputs == spec




@pytest.mark.parametrize("name", BASELINES)
def test_defaults_use_allowed_keys_and_values_and_each_has_a_source(name):
    entry = MODELS.get(name)
    defaults, sources = dict(entry.defaults), entry.meta["default_sources"]
    assert set(defaults) <= set(HYPERPARAMETERS)
    assert set(sources) == set(defaults) and all(isinstance(s, str) and s for s in sources.values())
    assert defaults["optimizer"] in ("adamw", "sgd") and defaults["weight_decay"] == 0.0
    assert defaults["augment"] == "none" and defaults["selection"] in SELECTION_RULES
    assert isinstance(defaults["epochs"], int) and isinstance(defaults["batch_size"], int)
    fixed = build_on_meta(name, 3).inputs.size
    assert fixed in (None, defaults["input_size"])


def test_recipes_of_the_official_code():
    recipe = {
        n: tuple(MODELS.get(n).defaults[k] for k in ("optimizer", "lr", "batch_size", "epochs"))
        for n in BASELINES
    }
    assert recipe == {
        "ststnet": ("adamw", 5e-5, 256, 800),
        "off-apexnet": ("adamw", 1e-4, 64, 3000),
        "dual-inception": ("adamw", 1e-4, 3, 40),
        "rcn": ("sgd", 5e-4, 64, 100),
        "htnet": ("adamw", 5e-5, 256, 800),
    }


@pytest.mark.parametrize("name", BASELINES)
def test_reported_rows_are_valid_and_cover_the_composite_and_its_parts(name):
    rows = MODELS.get(name).meta["reported"]
    assert rows and all(isinstance(row, Reported) for row in rows)
    parts = (None, *DATASETS.get("megc2019").meta["composite"])
    for row in rows:
        assert (row.dataset, row.class_set, row.protocol) == ("megc2019", "megc2019-3", "loso")
        assert row.class_set in CLASS_SETS and row.protocol in PROTOCOLS and row.source
        assert row.part in parts and 0 < row.uf1 < 1 and 0 < row.uar < 1
    variants = {row.variant for row in rows}
    assert "paper" in variants
    for variant in variants:
        assert sorted(map(str, (r.part for r in rows if r.variant == variant))) == sorted(map(str, parts))


def test_ststnet_paper_uar_is_the_released_logs_macro_precision():
    rows = MODELS.get("ststnet").meta["reported"]
    by = {(r.variant, r.part): r for r in rows}
    for part in (None, "smic", "casme2", "samm"):
        paper, log = by["paper", part], by["released log", part]
        assert paper.uar_is == "macro-precision" and log.uar_is == "recall"
        assert paper.uf1 == log.uf1 and log.uar < paper.uar
    assert (by["official PyTorch re-run", None].uf1, by["official PyTorch re-run", None].selection) == (
        0.7209,
        "last",
    )


def test_htnet_figures_are_flagged_as_chosen_on_the_test_subject():
    rows = MODELS.get("htnet").meta["reported"]
    assert all(row.leaks_test_subject for row in rows)
    full = {row.variant: (row.uf1, row.uar) for row in rows if row.part is None}
    assert full == {"paper": (0.8603, 0.8475), "released predictions": (0.8313, 0.8175)}


def test_htnet_tiles_four_fixed_blocks_as_the_release_does():
    # the release's fallback landmarks, clipped to [7, 21], truncated, x used as the row
    assert block_centres() == [(9, 11), (21, 10), (15, 17), (10, 21), (20, 21)]
    image = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(1, 2, 28, 28)
    tiled = tile_blocks(image, block_centres())
    top = torch.cat([image[..., 2:16, 4:18], image[..., 14:28, 3:17]], dim=-1)
    bottom = torch.cat([image[..., 3:17, 14:28], image[..., 13:27, 14:28]], dim=-1)
    assert torch.equal(tiled, torch.cat([top, bottom], dim=-2))


def test_htnet_blocks_round_trip():
    x = torch.randn(2, 5, 4, 4)
    for n in (1, 2, 4):
        tokens = to_blocks(x, n)
        assert tokens.shape == (2 * n * n, 16 // (n * n), 5)
        assert torch.equal(from_blocks(tokens, n, 4), x)
    # block (0, 1) of a 2 x 2 split holds the top-right quarter, channels last
    assert torch.equal(to_blocks(x, 2)[1], x[0, :, :2, 2:].reshape(5, 4).T)


def test_htnet_attention_sees_a_single_token_in_the_released_geometry(one_thread):
    """28 px, 7 px patches, three levels: one token per block at every level, so attention is
    the value projection and the query/key weights get no gradient (up to rounding)."""
    torch.manual_seed(0)
    model = HTNet(3, dim=12, heads=3)  # the released geometry at a small width
    model(flow=torch.rand(2, 2, 28, 28), strain=torch.rand(2, 1, 28, 28)).sum().backward()
    attentions = [m for m in model.modules() if isinstance(m, Attention)]
    assert len(attentions) == 2 + 2 + 10
    for attention in attentions:
        grad = attention.qkv.weight.grad
        query_key, value = grad[: 2 * grad.shape[0] // 3], grad[2 * grad.shape[0] // 3 :]
        assert query_key.abs().max() < 1e-6 * value.abs().max()


def test_rcn_modules_are_parameter_free():
    counts = {
        m: count_parameters(create_model("rcn", 3, module=m)) for m in ("attention", "shortcut", "wide")
    }
    # attention and the dense shortcut add nothing; the wide stem replaces the 5x5 stem
    assert counts == {"attention": 55_747, "shortcut": 55_747, "wide": 52_675}
    with pytest.raises(ConfigError, match="module=deep"):
        create_model("rcn", 3, module="deep")
    with pytest.raises(ConfigError, match="featuremaps=30"):
        create_model("rcn", 3, module="wide", featuremaps=30)


def test_rcn_attention_averages_min_max_scaled_class_maps():
    features = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])  # (1, 1 channel, 2, 2)
    weight = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]])  # 2 classes
    # class 0: the features scaled to [0, 1/3, 2/3, 1]; class 1: only the last cell, [0, 0, 0, 1]
    expected = torch.tensor([[[[0.0, 1 / 6], [1 / 3, 1.0]]]])
    assert torch.allclose(class_activation_attention(features, weight), expected)
    flat = class_activation_attention(torch.ones(1, 1, 2, 2), torch.ones(2, 4))
    assert torch.equal(flat, torch.zeros(1, 1, 2, 2))  # the official code gives NaN here


def toy_motion(n: int, size: int, seed: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Three classes of noisy flow, each a blob of motion at its own place in its own direction,
    every map min-max scaled per clip as prepared ``minmax`` inputs are."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    centres = torch.tensor([[0.3, 0.3], [0.3, 0.7], [0.7, 0.5]]) * size
    directions = torch.tensor([[1.0, -1.0], [-1.0, -1.0], [1.0, 1.0]])
    flow = 0.3 * torch.randn(n, 2, size, size, generator=g)
    for i, label in enumerate(labels):
        row, col = centres[label] + torch.randn(2, generator=g)
        blob = torch.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * (size / 10) ** 2))
        flow[i] += directions[label, :, None, None] * blob
    magnitude = flow.norm(dim=1, keepdim=True)

    def minmax(x: torch.Tensor) -> torch.Tensor:
        low, high = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
        return (x - low) / (high - low)

    return {"flow": minmax(flow), "strain": minmax(magnitude), "magnitude": minmax(magnitude)}, labels


def test_ststnet_learns_a_separable_motion_problem(one_thread):
    """30 Adam steps take a fresh STSTNet from chance (1/3) to near-perfect accuracy on clips it
    has not seen. (The larger baselines were checked the same way once; too slow for a test.)"""
    torch.manual_seed(0)
    model = create_model("ststnet", 3)
    size = side("ststnet", model)
    data, labels = toy_motion(96, size, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(30):
        rows = torch.randint(0, 96, (16,))
        loss = torch.nn.functional.cross_entropy(
            model(**{k: data[k][rows] for k in model.inputs.keys}), labels[rows]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test, test_labels = toy_motion(96, size, seed=1)
    with torch.no_grad():
        accuracy = (
            (model.eval()(**{k: test[k] for k in model.inputs.keys}).argmax(1) == test_labels).float().mean()
        )
    assert accuracy >= 0.9


def test_release_order_is_planned_recorded_and_departs_from_ststnets_recipe():
    from leaderboard.table import recipe_of, registered_models
    from zoo.bench.plan import BenchSpec, plan_benchmark, run_id_of

    release = plan_benchmark(BenchSpec(model="ststnet", device="cpu", overrides={"order": "by-class"}))
    default = plan_benchmark(BenchSpec(model="ststnet", device="cpu"))
    assert release.train.order == "by-class" and release.sources["order"] == "command line"
    assert default.train.order == "shuffled" and default.sources["order"] == "model ststnet defaults"
    # the default is left out of the identity: runs recorded before --order keep their ids
    before = replace(default, hyperparameters={k: v for k, v in default.hyperparameters.items() if k != "order"})
    assert run_id_of(default, "f") == run_id_of(before, "f") != run_id_of(release, "f")
    facts = registered_models()["ststnet"]
    shortened = ["epochs 15 (recipe 800)"]  # synth's budget
    assert recipe_of({"hyperparameters": before.hyperparameters}, facts) == shortened
    assert recipe_of({"hyperparameters": release.hyperparameters}, facts) == [*shortened, "order by-class (recipe shuffled)"]
