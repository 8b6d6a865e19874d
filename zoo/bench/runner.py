"""The benchmark runner: wires reader -> preprocessing cache -> folds -> trainer -> metrics
-> results store. It holds no model-, dataset- or protocol-specific logic.

``run_benchmark`` runs the folds of a checked plan, saving each finished fold atomically (and,
mid-fold, its training state) so an interrupted run resumes where it stopped. A run holds a
lock for its run id in its results folder: a second process on the same run is refused.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.files import cache_home
from benchmarks.preprocess import prepare
from benchmarks.protocols import Fold
from leaderboard import store
from registry import DATASETS, PROTOCOLS
from zoo.bench.document import result_document
from zoo.bench.jobs import FoldJob, fold_record, fold_seed, run_fold
from zoo.bench.plan import BenchPlan, run_id_of, select_samples
from zoo.bench.pretraining import resolve_pretraining
from zoo.engine.checkpoint import FoldCheckpoint
from zoo.engine.determinism import make_deterministic
from zoo.engine.saved import save_fold_weights
from zoo.engine.trainer import FoldData


class Reporter:
    """Progress callbacks of a run; the CLI draws them, tests ignore them."""

    def message(self, text: str) -> None: ...
    def preprocessing(self, done: int, total: int) -> None: ...
    def fold_started(self, fold: Fold, number: int, total: int, epochs: int) -> None: ...
    def epoch_finished(self, fold: Fold, epoch: int, loss: float) -> None: ...
    def fold_finished(self, fold: Fold, record: dict, reused: bool) -> None: ...


def run_benchmark(plan: BenchPlan, reporter: Reporter | None = None) -> Path:
    """Run every fold (reusing finished ones), then write the result file; return its path.

    The results folder is probed for writing before any work; the run's lock is held from
    when its id is known until its result is written.
    """
    with ExitStack() as held:
        return _run_benchmark(plan, reporter or Reporter(), held)


def _run_benchmark(plan: BenchPlan, reporter: Reporter, held: ExitStack) -> Path:
    spec = plan.spec
    for warning in plan.warnings:
        reporter.message(f"warning: {warning}")
    started = time.perf_counter()
    index = DATASETS.get(spec.dataset).obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    pretraining = resolve_pretraining(plan, subjects, reporter.message)
    out = Path(spec.out)
    store.check_writable(out)  # after the checkpoint is known good: a refused one writes nothing
    fingerprint = index.fingerprint()
    run_id = run_id_of(plan, fingerprint, pretraining)
    held.enter_context(store.run_lock(out, run_id))
    if spec.deterministic:  # here too, so the result records it even if every fold is reused
        make_deterministic()
    prepared = prepare(index, plan.preprocess, cache_home(), reporter.preprocessing)
    data = FoldData(prepared.rows(keys), torch.tensor(labels), tuple(subjects))
    folds = PROTOCOLS.get(spec.protocol).obj(list(subjects), spec.seed)
    weights = store.weights_dir(store.result_file(out, spec.model, spec.dataset, run_id))
    records = []
    for number, fold in enumerate(folds, start=1):
        record = store.read_fold(out, run_id, fold.name)
        if spec.save_weights and not (weights / f"{fold.name}.safetensors").is_file():
            record = None  # finished without --save-weights: trained again to keep its weights
        reporter.fold_started(fold, number, len(folds), plan.train.epochs)
        if record is not None:
            reporter.fold_finished(fold, record, reused=True)
            records.append(record)
            continue
        job = FoldJob(
            spec.model,
            plan.options,
            plan.class_set.num_classes,
            fold,
            data.subset(list(fold.train)),
            data.subset(list(fold.test)),
            replace(plan.train, seed=fold_seed(spec.seed, number)),
            pretraining and pretraining["path"],
            spec.allow_partial,
            FoldCheckpoint(store.state_file(out, run_id, fold.name), spec.checkpoint_every),
        )
        if job.checkpoint.path.exists():
            reporter.message(f"fold {fold.name}: continuing from its saved state {job.checkpoint.path}")
        outcome = run_fold(job, lambda e, loss: reporter.epoch_finished(fold, e, loss))
        if spec.save_weights:  # before the fold record, so a kept record always has them
            save_fold_weights(
                weights / f"{fold.name}.safetensors",
                outcome,
                run_id=run_id,
                fold=fold.name,
                test_subjects=list(fold.test_subjects),
                model=spec.model,
                options=plan.options,
                num_classes=plan.class_set.num_classes,
            )
        record = fold_record(fold, keys, labels, subjects, outcome, plan.class_set)
        store.write_fold(out, run_id, fold.name, record)
        job.checkpoint.remove()
        reporter.fold_finished(fold, record, reused=False)
        records.append(record)
    document = result_document(
        plan, run_id, time.perf_counter() - started, index, fingerprint, keys, subjects, pretraining, records
    )
    path = store.write_result(out, document)
    store.clear_partials(out, run_id)
    return path
