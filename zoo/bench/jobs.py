"""One fold as a self-contained job: what it trains on, how, and the record it leaves.

A ``FoldJob`` is small and picklable: it names its training and test samples by their rows of
the run's prepared data (``job.fold``), which an executor hands to ``run_fold`` once per
worker (shared memory, Ray's object store) rather than copying it into every job. So a fold
may run in this process, another process or another machine; ``run_fold`` is all that runs
there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from benchmarks.metrics import summarize
from benchmarks.protocols import Fold
from benchmarks.records import ClassSet
from registry.errors import ConfigError
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import explain_nondeterministic
from zoo.engine.stacked import fit_predict_stacked
from zoo.engine.trainer import FoldData, FoldOutcome, TrainConfig, fit_predict
from zoo.models import create_model
from zoo.pretrain.checkpoints import load_pretrained


@dataclass(frozen=True)
class FoldJob:
    """Everything one fold needs but the data, picklable so folds can run in other processes."""

    model: str
    options: dict[str, Any]
    num_classes: int
    fold: Fold  # its train and test rows of the run's data
    config: TrainConfig
    pretrained: str | None = None  # checkpoint file loaded into every fold's fresh model
    allow_partial: bool = False
    checkpoint: FoldCheckpoint | None = None  # mid-fold training state


def fold_seed(seed: int, number: int) -> int:
    """Each fold's own seed: independent of the order folds are run in."""
    return seed * 1000 + number


def build_model(job: FoldJob) -> torch.nn.Module:
    """The fold's fresh model, with the pre-trained weights if the run fine-tunes."""
    model = create_model(job.model, job.num_classes, **job.options)
    if job.pretrained:
        load_pretrained(model, Path(job.pretrained), job.allow_partial)
    return model


def run_fold(
    job: FoldJob, data: FoldData, on_epoch: Callable[[int, float], None] | None = None
) -> FoldOutcome:
    """Train and test the fold on its rows of ``data``, the prepared data of the whole run."""
    train, test = data.subset(list(job.fold.train)), data.subset(list(job.fold.test))
    with explain_nondeterministic(job.model):
        return fit_predict(
            lambda: build_model(job), train, test, job.config, job.num_classes, on_epoch, job.checkpoint
        )


def run_folds_stacked(
    jobs: Sequence[FoldJob],
    data: FoldData,
    on_epoch: Callable[[Fold, int, float], None] | None = None,
    compile: bool = False,
) -> list[FoldOutcome]:
    """Train ``jobs`` (folds of one run, rows of ``data``) at once as one stacked model; their
    outcomes in order.

    Each outcome is what ``run_fold(job, data)`` returns for that job, up to float rounding (on CPU
    the same bits: ``tests/test_stacked.py``); its ``seconds`` is the job's share of the
    stacked run. The jobs must share model, options, class count, pre-training and training
    recipe (only seeds differ; the runner's jobs of one run do) and use ``selection="last"``,
    else :class:`ConfigError`. ``job.checkpoint`` is not used: an interrupted stacked run
    trains its unfinished folds from epoch 1 again (finished folds are reused as ever).
    ``on_epoch(fold, epoch, loss)`` after each epoch of each fold. ``compile``: run the stacked
    model through ``torch.compile``. Memory: every fold's model, batch and activations at once
    (STSTNet at batch 256: all 68 MEGC 2019 folds peaked at 5.9 GB on CPU).
    """
    first = jobs[0]
    shared = (first.model, first.options, first.num_classes, first.pretrained, first.allow_partial)
    for job in jobs[1:]:
        if (job.model, job.options, job.num_classes, job.pretrained, job.allow_partial) != shared:
            raise ConfigError(
                f"stacked folds must share one model setup; fold {job.fold.name} differs from {first.fold.name}"
            )
    report = (lambda index, epoch, loss: on_epoch(jobs[index].fold, epoch, loss)) if on_epoch else None
    with explain_nondeterministic(first.model):
        return fit_predict_stacked(
            lambda: build_model(first),
            [(data.subset(list(job.fold.train)), data.subset(list(job.fold.test)), job.config) for job in jobs],
            first.num_classes,
            on_epoch=report,
            compile=compile,
        )


def fold_record(
    fold: Fold,
    keys: list[str],
    labels: list[int],
    subjects: list[str],
    outcome: FoldOutcome,
    class_set: ClassSet,
) -> dict:
    """The fold's entry of the result file: per-clip predictions and the fold's metrics."""
    samples = [
        {"clip": keys[i], "label": labels[i], "prediction": p, "probabilities": probs}
        for i, p, probs in zip(fold.test, outcome.predictions, outcome.probabilities)
    ]
    summary = summarize([s["label"] for s in samples], outcome.predictions, class_set.classes)
    return {
        "name": fold.name,
        "test_subjects": list(fold.test_subjects),
        "train_subjects": sorted({subjects[i] for i in fold.train}),
        "num_train": len(fold.train),
        "samples": samples,
        "metrics": {k: summary[k] for k in ("accuracy", "uf1", "uar")},
        "selected_epoch": outcome.selected_epoch,
        "losses": outcome.losses,
        "seconds": outcome.seconds,
    }
