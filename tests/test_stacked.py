"""Stacked training of all folds (zoo.engine.stacked) against fold-by-fold ``fit_predict``.

Tolerance (fp32, CPU): with ``per-fold`` kernels every fold's predictions are identical and
its probabilities and final weights equal fold-by-fold training to 1e-5 (absolute, probabilities
are rounded to 5 decimals) and 1e-4 (relative; a fold whose last batch is padded runs its
convolution on more rows than on its own, which sums its weight gradient in another order); with ``shared`` kernels (one grouped
convolution and one masked batch norm for all folds) batch statistics are summed in another
order, so probabilities agree to 5e-4 and weights to 2e-2 relative (the largest gap is in
batch norm's running variance, ~1e-3 relative).
"""

from dataclasses import replace

import pytest
import torch
import torch.nn as nn

from benchmarks.protocols import Fold
from registry.errors import ConfigError
from zoo.bench.jobs import FoldJob, run_fold, run_folds_stacked
from zoo.engine.augment import AUGMENTATIONS
from zoo.engine.stacked import fit_predict_stacked, stack_models
from zoo.engine.trainer import FoldData, TrainConfig, fit_predict
from zoo.models import create_model
from zoo.models.ststnet import OfficialSTSTNet

# 37 rows in batches of 8 end with 5; 41 and 33 end with a single row, which is skipped, so
# the folds take 5, 5 and 4 steps per epoch and fold 3 sits out the fifth step
TRAIN_SIZES = (37, 41, 33)


def flow_data(n: int, seed: int) -> FoldData:
    """STSTNet's inputs (28 px flow and strain) whose flow carries the class."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    flow = torch.randn(n, 2, 28, 28, generator=g) + labels.view(-1, 1, 1, 1).float()
    strain = torch.rand(n, 1, 28, 28, generator=g)
    return FoldData({"flow": flow, "strain": strain}, labels, tuple(f"s{i % 4}" for i in range(n)))


def folds(**recipe) -> list[tuple[FoldData, FoldData, TrainConfig]]:
    base = dict(epochs=3, batch_size=8, lr=1e-2, weight_decay=0.01, lr_decay=0.9, class_balanced=True,
                label_smoothing=0.1, augment=AUGMENTATIONS["none"])
    return [
        (flow_data(n, f), flow_data(6 + f, 50 + f), TrainConfig(**{**base, **recipe, "seed": 100 + f}))
        for f, n in enumerate(TRAIN_SIZES)
    ]


def build() -> nn.Module:
    return create_model("ststnet", 3)


def build_release() -> nn.Module:
    """The release's three-stream STSTNet, in torch's default memory layout. There the shared
    layout's batch norm sums as the native kernel does; the registered one-stream form is
    channels-last, whose native batch norm sums in another order (1e-4 apart after one step),
    which 3 epochs at lr 1e-2 amplify past the shared tolerance below."""
    return OfficialSTSTNet(3)


def assert_same_outcomes(expected, got, prob_atol: float, weight_rtol: float) -> None:
    for ref, out in zip(expected, got, strict=True):
        assert out.predictions == ref.predictions
        assert torch.tensor(out.probabilities) == pytest.approx(torch.tensor(ref.probabilities), abs=prob_atol)
        assert out.losses == pytest.approx(ref.losses, rel=1e-4)
        assert out.weights.keys() == ref.weights.keys()
        for key, value in ref.weights.items():
            torch.testing.assert_close(out.weights[key], value, rtol=weight_rtol, atol=1e-5)
        assert out.selected_epoch == ref.selected_epoch and out.normalizer == ref.normalizer


def test_stacked_adamw_equals_fold_by_fold_in_both_kernel_layouts():
    jobs = folds()
    expected = [fit_predict(build, train, test, cfg, 3) for train, test, cfg in jobs]
    assert all(o.losses[-1] < o.losses[0] for o in expected)  # the folds really train
    assert_same_outcomes(expected, fit_predict_stacked(build, jobs, 3, layout="per-fold"), 1e-5, 1e-4)
    expected = [fit_predict(build_release, train, test, cfg, 3) for train, test, cfg in jobs]
    assert_same_outcomes(expected, fit_predict_stacked(build_release, jobs, 3, layout="per-fold"), 1e-5, 1e-4)
    assert_same_outcomes(expected, fit_predict_stacked(build_release, jobs, 3, layout="shared"), 5e-4, 2e-2)


def test_stacked_sgd_with_augmentation_equals_fold_by_fold():
    jobs = folds(optimizer="sgd", augment=AUGMENTATIONS["flip-rotate-crop"])
    expected = [fit_predict(build, train, test, cfg, 3) for train, test, cfg in jobs]
    assert_same_outcomes(expected, fit_predict_stacked(build, jobs, 3), 1e-5, 1e-4)


def test_stacked_by_class_order_equals_fold_by_fold_and_differs_from_shuffled():
    jobs = folds(order="by-class")
    expected = [fit_predict(build, train, test, cfg, 3) for train, test, cfg in jobs]
    assert_same_outcomes(expected, fit_predict_stacked(build, jobs, 3, layout="per-fold"), 1e-5, 1e-4)
    shuffled = [fit_predict(build, train, test, cfg, 3) for train, test, cfg in folds()]
    assert all(a.losses != b.losses for a, b in zip(expected, shuffled))  # other batches, other steps


def test_run_folds_stacked_returns_each_jobs_outcome_in_order():
    parts, jobs, start = [], [], 0
    for f, (train, test, cfg) in enumerate(folds(epochs=1)):
        rows = range(start, start + len(train) + len(test))
        fold = Fold(f"s{f}", tuple(rows[: len(train)]), tuple(rows[len(train):]), (f"s{f}",))
        jobs.append(FoldJob("ststnet", {}, 3, fold, cfg))
        parts += [train, test]
        start = rows.stop
    data = FoldData(
        {k: torch.cat([p.inputs[k] for p in parts]) for k in parts[0].inputs},
        torch.cat([p.labels for p in parts]),
        tuple(s for p in parts for s in p.subjects),
    )
    epochs_seen = []
    outcomes = run_folds_stacked(jobs, data, lambda fold, epoch, loss: epochs_seen.append((fold.name, epoch)))
    assert epochs_seen == [("s0", 1), ("s1", 1), ("s2", 1)]
    assert_same_outcomes([run_fold(job, data) for job in jobs], outcomes, 1e-5, 1e-4)


@pytest.mark.parametrize(
    "folds_changed, change, message",
    [
        (slice(None), {"selection": "val"}, "--selection last only"),
        (slice(-1, None), {"lr": 1e-3}, "share one training recipe"),
    ],
)
def test_stacked_refuses_what_it_cannot_mirror(folds_changed, change, message):
    jobs = folds(epochs=1)
    jobs[folds_changed] = [(train, test, replace(cfg, **change)) for train, test, cfg in jobs[folds_changed]]
    with pytest.raises(ConfigError, match=message):
        fit_predict_stacked(build, jobs, 3)


def test_stacking_refuses_layers_it_cannot_split_by_fold():
    models = [nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout2d(0.5)) for _ in range(2)]
    with pytest.raises(ConfigError, match="nn.Dropout only, not Dropout2d"):
        stack_models(models, [torch.Generator(), torch.Generator()])
