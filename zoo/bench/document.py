"""The result document of a finished run: what ran, on what, how, and every prediction.

Self-describing on purpose: the leaderboard and ``zoo push`` read nothing but this file.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from benchmarks.metrics import part_metrics, summarize
from benchmarks.significance import run_intervals
from benchmarks.records import DatasetIndex
from registry import DATASETS, MODELS
from zoo.bench.plan import BenchPlan
from zoo.engine.determinism import determinism_settings
from zoo.engine.allocator import keep_freed_memory
from zoo.engine.trainer import SELECTION_RULES, cpu_description
from zoo.models import count_parameters, create_model


def result_document(
    plan: BenchPlan,
    run_id: str,
    duration_s: float,
    index: DatasetIndex,
    fingerprint: str,
    keys: list[str],
    subjects: list[str],
    pretraining: dict | None,
    records: list[dict],
    executor: dict[str, Any],
) -> dict[str, Any]:
    spec = plan.spec
    samples = [s for r in records for s in r["samples"]]
    y_true = [s["label"] for s in samples]
    y_pred = [s["prediction"] for s in samples]
    kept = set(keys)
    part_of = DATASETS.get(spec.dataset).meta.get("part_of")
    return {
        "run_id": run_id,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 1),
        "model": {
            "name": spec.model,
            "options": plan.options,
            "num_parameters": count_parameters(create_model(spec.model, plan.class_set.num_classes, **plan.options)),
            "citation": MODELS.get(spec.model).citation,
        },
        "backbone": plan.options.get("backbone"),
        "pretraining": pretraining,
        "dataset": {
            "name": spec.dataset,
            "class_set": plan.class_set.name,
            "classes": list(plan.class_set.classes),
            "fingerprint": fingerprint,
            "num_samples": len(keys),
            "num_subjects": len(set(subjects)),
            "excluded_rows": len(index.excluded),
            "imputed_apex": sum(c.apex_imputed for c in index.clips if c.key in kept),
        },
        "preprocess": asdict(plan.preprocess),
        "inputs": plan.inputs,
        "protocol": {"name": spec.protocol, "num_folds": len(records)},
        "seed": spec.seed,
        "hyperparameters": plan.hyperparameters,
        "hyperparameter_sources": plan.sources,
        "training": {
            **plan.train.to_dict(),
            "seed": spec.seed,
            "selection_rule": SELECTION_RULES[plan.train.selection],
            "determinism": determinism_settings(),
        },
        "environment": environment(executor),
        "metrics": summarize(y_true, y_pred, plan.class_set.classes),
        "part_metrics": part_metrics(samples, part_of, plan.class_set.classes),
        "intervals": run_intervals(samples, plan.class_set.classes, part_of),
        "folds": records,
    }


def environment(executor: dict[str, Any]) -> dict[str, Any]:
    """Versions, machine and how the folds ran: ``executor`` as it describes itself. Not part of
    the run's identity, so a run resumes under another executor."""
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    try:
        revision = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=Path(__file__).parent,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        revision = None
    return {
        "mer_zoo": version("mer-zoo"),
        "git_revision": revision,
        "python": platform.python_version(),
        **{name: version(name) for name in ("torch", "timm", "numpy", "opencv-contrib-python-headless")},
        "platform": platform.platform(),
        "torch_threads": executor["threads_per_fold"],  # CPU results are reproducible at equal thread counts
        "executor": executor,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "cpu": cpu_description(),
        "allocator": keep_freed_memory(),
    }
