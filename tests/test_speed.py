"""experiments/perf/speed.py's pieces: FLOP counting, the naive loop on one fold, the report."""

import pytest
import torch

from experiments.perf.speed import (
    COLUMNS,
    FrameClips,
    markdown,
    naive_fold,
    parse_args,
    train_flops_per_clip,
    verdict,
    workload,
)
from zoo.models import create_model, forward_flops


def test_a_train_step_counts_forward_and_backward():
    train = train_flops_per_clip("flow_resnet18", 5, 112)
    forward = forward_flops(create_model("flow_resnet18", 5), 112)
    # backward is about twice forward; the first convolution needs no input gradient
    assert 2.5 < train / forward < 3.0


def test_naive_loop_trains_one_fold_from_the_jpegs(synth_index):
    work = workload("synth", "diff_resnet18", epochs=1, folds=1, root=synth_index.root)
    assert work.partial and len(work.folds) == 1 and work.total_folds == 12
    fold = work.folds[0]
    test = [work.clips[i] for i in fold.test]
    clips = FrameClips(test, [0] * len(test), ("onset", "apex"), 112, train=False)
    first, again = clips[0][0], clips[0][0]
    assert first["onset"].shape == (3, 112, 112) and torch.equal(first["apex"], again["apex"])  # re-read
    assert -2.2 < first["onset"].min() and first["onset"].max() < 2.7  # ImageNet-normalised
    predictions = naive_fold(work, fold, seed=0)
    assert len(predictions) == len(fold.test) and set(predictions) <= set(range(work.num_classes))


def test_report_says_partial_and_judges_the_targets():
    assert [verdict(3.2, 3, True), verdict(2.9, 3, True), verdict(None, 3, True)] == ["met", "not met", "n/a"]
    assert [verdict(1.4, 1.5, False), verdict(1.77, 1.5, False)] == ["met", "not met"]
    row = {**dict.fromkeys(COLUMNS), "folds": "1/12 (partial)", "speedup": 2.0, "speedup_target": "not met"}
    meta = {"cpu": "cpu", "cpus": 2, "platform": "linux", "torch": "2", "threads": 1, "note": "a long run"}
    text = markdown([row], {"fp32": {"matmul": 40.0, "conv3x3": 48.0}}, meta)
    assert "PARTIAL: only the first LOSO folds ran (1/12)" in text and "Also running: a long run" in text
    assert "| speed-up >= 3x |" in text and text.rstrip().endswith("| not met |  |")


def test_arguments():
    args = parse_args(["--models", "diff_resnet18", "--precisions", "fp32", "--folds", "2"])
    assert (args.models, args.precisions, args.folds) == (["diff_resnet18"], ["fp32"], 2)
    assert args.executors == ["local"]
    with pytest.raises(SystemExit):
        parse_args(["--precisions", "fp16"])
