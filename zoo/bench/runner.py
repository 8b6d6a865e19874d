"""The benchmark runner: wires reader -> preprocessing cache -> folds -> trainer -> metrics
-> results store. It holds no model-, dataset- or protocol-specific logic.

``run_benchmark`` runs the folds of a checked plan on its executor (``zoo.bench.executors``),
saving each finished fold atomically as it comes in (and, mid-fold, its training state) so an
interrupted run resumes where it stopped, whichever executor runs it then. A failed fold
leaves its traceback beside the finished ones and the run ends with a :class:`FoldError`
naming it. A run holds a lock for its run id in its results folder: a second process on the
same run is refused.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from benchmarks.files import cache_home, local_path
from benchmarks.preprocess import prepare
from benchmarks.protocols import Fold, make_folds
from benchmarks.records import DatasetIndex
from leaderboard import store
from registry import DATASETS
from registry.errors import FoldError
from zoo.bench.document import result_document
from zoo.bench.executors import FoldFailure, open_executor
from zoo.bench.jobs import FoldJob, fold_record, fold_seed
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


@dataclass(frozen=True)
class RunIdentity:
    """What a run is run on and its id: known before any fold, and before anything is written."""

    index: DatasetIndex
    fingerprint: str
    keys: list[str]
    labels: list[int]
    subjects: list[str]
    pretraining: dict | None
    run_id: str


def identify(plan: BenchPlan, message: Callable[[str], None] = lambda text: None) -> RunIdentity:
    """Read the dataset's index and resolve the pre-training (producing it if a recipe says so)."""
    index = DATASETS.get(plan.spec.dataset).obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    pretraining = resolve_pretraining(plan, subjects, message)
    fingerprint = index.fingerprint()
    run_id = run_id_of(plan, fingerprint, pretraining)
    return RunIdentity(index, fingerprint, keys, labels, subjects, pretraining, run_id)


def existing_result(plan: BenchPlan) -> Path | None:
    """The result file of ``plan``'s run if it has been written already."""
    path = store.result_file(Path(plan.spec.out), plan.spec.model, plan.spec.dataset, identify(plan).run_id)
    return path if path.is_file() else None


def _run_benchmark(plan: BenchPlan, reporter: Reporter, held: ExitStack) -> Path:
    spec = plan.spec
    for warning in plan.warnings:
        reporter.message(f"warning: {warning}")
    started = time.perf_counter()
    executor = open_executor(spec.executor)  # first: a cluster out of reach writes nothing
    held.callback(executor.close)
    run = identify(plan, reporter.message)
    keys, labels, subjects, run_id = run.keys, run.labels, run.subjects, run.run_id
    out = Path(spec.out)
    store.check_writable(out)  # after the checkpoint is known good: a refused one writes nothing
    held.enter_context(store.run_lock(out, run_id))
    if spec.deterministic:  # here too, so the result records it even if every fold is reused
        make_deterministic()
    prepared = prepare(run.index, plan.preprocess, cache_home(), reporter.preprocessing)
    data = FoldData(prepared.rows(keys), torch.tensor(labels), tuple(subjects))
    folds = make_folds(spec.protocol, spec.dataset, keys, subjects, spec.seed)
    numbers = {fold.name: number for number, fold in enumerate(folds, start=1)}
    weights = store.weights_dir(store.result_file(out, spec.model, spec.dataset, run_id))
    records, jobs = {}, []
    for fold in folds:
        record = store.read_fold(out, run_id, fold.name)
        if spec.save_weights and not (weights / f"{fold.name}.safetensors").is_file():
            record = None  # finished without --save-weights: trained again to keep its weights
        if record is not None:
            reporter.fold_started(fold, numbers[fold.name], len(folds), plan.train.epochs)
            reporter.fold_finished(fold, record, reused=True)
            records[fold.name] = record
            continue
        job = FoldJob(
            spec.model,
            plan.options,
            plan.class_set.num_classes,
            fold,
            replace(plan.train, seed=fold_seed(spec.seed, numbers[fold.name])),
            run.pretraining and str(local_path(run.pretraining["path"])),
            spec.allow_partial,
            FoldCheckpoint(store.state_file(out, run_id, fold.name), spec.checkpoint_every),
        )
        if job.checkpoint.path.exists():
            reporter.message(f"fold {fold.name}: continuing from its saved state {job.checkpoint.path}")
        jobs.append(job)

    def fold_started(job: FoldJob) -> None:
        reporter.fold_started(job.fold, numbers[job.fold.name], len(folds), plan.train.epochs)

    def epoch_finished(job: FoldJob, epoch: int, loss: float) -> None:
        reporter.epoch_finished(job.fold, epoch, loss)

    failed = []
    for job, outcome in executor.run(jobs, data, fold_started, epoch_finished):
        fold = job.fold
        if isinstance(outcome, FoldFailure):
            failed.append(f"{fold.name} ({store.write_traceback(out, run_id, fold.name, outcome.traceback)})")
            reporter.message(f"fold {fold.name}: failed; traceback in {failed[-1]}")
            continue
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
        store.traceback_file(out, run_id, fold.name).unlink(missing_ok=True)  # of an earlier, failed try
        reporter.fold_finished(fold, record, reused=False)
        records[fold.name] = record
    if failed:
        raise FoldError(
            f"{len(failed)} of {len(folds)} folds failed: {', '.join(failed)}; the {len(records)} finished "
            f"are kept in {store.partial_dir(out, run_id)}: run the same command again to retry the "
            "failed ones"
        )
    document = result_document(
        plan,
        run_id,
        time.perf_counter() - started,
        run.index,
        run.fingerprint,
        keys,
        subjects,
        run.pretraining,
        [records[fold.name] for fold in folds],
        executor.describe(),
    )
    path = store.write_result(out, document)
    store.clear_partials(out, run_id)
    return path
