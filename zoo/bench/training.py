"""``zoo train``: the one model a lab deploys, trained on every subject of a dataset.

Planned exactly as ``zoo bench`` plans a run (hyper-parameters and their sources, inputs,
pre-training) and trained as one fold whose training set is every subject (``--selection
val`` holds out training subjects for the choice of epoch, as in bench). The result is a
folder (:mod:`zoo.engine.trained`) that ``zoo predict``, ``zoo push`` and ``--pretrained``
take. Like a run, a training has an id (what changes its weights), holds a lock for it, saves
its state as it goes and resumes from it when interrupted; a finished folder is not trained
again.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmarks.files import cache_home, local_path
from benchmarks.preprocess import prepare, provided_inputs
from benchmarks.protocols import Fold
from leaderboard import store
from zoo.bench.document import environment
from zoo.bench.jobs import FoldJob, build_model
from zoo.bench.plan import BenchPlan
from zoo.bench.runner import Reporter, identify
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import explain_nondeterministic
from zoo.engine.trained import CONFIG, FRAMES, save_trained
from zoo.engine.trainer import FoldData, fit

TRAINING = "all-subjects"  # what a training's id records where a run's names its protocol


def train_id(plan: BenchPlan, fingerprint: str, pretraining: dict | None) -> str:
    spec = plan.spec
    return store.run_id(spec.model, plan.options, spec.dataset, fingerprint, plan.class_set.name, TRAINING,
                        spec.seed, plan.hyperparameters, pretraining, plan.train.deterministic)


def train_model(plan: BenchPlan, reporter: Reporter | None = None) -> Path:
    """Train (or resume, or reuse) the model of ``plan`` on every subject; its folder."""
    reporter = reporter or Reporter()
    spec, out = plan.spec, Path(plan.spec.out)
    run = identify(plan, reporter.message)
    trained_id = train_id(plan, run.fingerprint, run.pretraining)
    folder = out / f"{spec.model}__{spec.dataset}__{trained_id}"
    if (folder / CONFIG).is_file():
        reporter.message(f"already trained with these settings: {folder}")
        return folder
    store.check_writable(out)
    with store.run_lock(out, trained_id):
        prepared = prepare(run.index, plan.preprocess, cache_home(), reporter.preprocessing)
        data = FoldData(prepared.rows(run.keys), torch.tensor(run.labels), tuple(run.subjects))
        everyone = Fold(TRAINING, tuple(range(len(run.keys))), (), ())
        job = FoldJob(spec.model, plan.options, plan.class_set.num_classes, everyone, plan.train,
                      run.pretraining and str(local_path(run.pretraining["path"])), spec.allow_partial,
                      FoldCheckpoint(store.state_file(out, trained_id, TRAINING), spec.checkpoint_every))
        if job.checkpoint.path.exists():
            reporter.message(f"continuing from the saved state {job.checkpoint.path}")
        reporter.fold_started(everyone, 1, 1, plan.train.epochs)
        with explain_nondeterministic(spec.model):
            fitted = fit(lambda: build_model(job), data, plan.train, plan.class_set.num_classes,
                         lambda epoch, loss: reporter.epoch_finished(everyone, epoch, loss), job.checkpoint)
        source = FRAMES if provided_inputs(spec.dataset).prepare_clip is None else spec.dataset
        config = {
            "model": spec.model,
            "options": plan.options,
            "num_classes": plan.class_set.num_classes,
            "classes": list(plan.class_set.classes),
            "class_set": plan.class_set.name,
            "dataset": spec.dataset,
            "fingerprint": run.fingerprint,
            "subjects": sorted(set(run.subjects)),
            "num_clips": len(run.keys),
            "inputs": {**fitted.model.inputs.describe(), "source": source},
            "preprocessing": asdict(plan.preprocess),
            "normalizer": fitted.normalizer.state(),
            "seed": spec.seed,
            "hyperparameters": plan.hyperparameters,
            "hyperparameter_sources": plan.sources,
            "pretraining": run.pretraining,
            "selected_epoch": fitted.selected_epoch,
            "validation_subjects": list(fitted.validation_subjects),
            "losses": [round(x, 5) for x in fitted.losses],
            "training_seconds": round(fitted.seconds, 1),
            "train_id": trained_id,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "environment": environment({"name": "local", "threads_per_fold": torch.get_num_threads()}),
        }
        save_trained(folder, {k: v.contiguous() for k, v in fitted.model.state_dict().items()}, config)
        store.clear_partials(out, trained_id)
    return folder
