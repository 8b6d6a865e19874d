"""Resolving a run's pre-training before any fold: produce (by recipe) or find the
checkpoint, test-load it into the model, and describe it for the result file."""

from __future__ import annotations

from typing import Callable

from zoo.bench.plan import BenchPlan
from zoo.models import create_model
from zoo.pretrain.checkpoints import checkpoint_file, describe_pretraining, load_pretrained


def resolve_pretraining(plan: BenchPlan, subjects: list[str], message: Callable[[str], None]) -> dict | None:
    """The pre-training record of the run (``None`` from scratch); raises on a checkpoint
    that does not fit, before anything is written."""
    if not plan.pretrained:
        return None
    spec = plan.spec
    checkpoint = checkpoint_file(plan.pretrained, plan.options, message, spec.device)
    report = load_pretrained(
        create_model(spec.model, plan.class_set.num_classes, **plan.options), checkpoint, spec.allow_partial
    )
    if spec.allow_partial:
        message(f"--allow-partial: {report.summary()}")
    return describe_pretraining(plan.pretrained, checkpoint, report, spec.dataset, subjects)
