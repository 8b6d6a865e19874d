"""Executors: the same seed gives the same per-clip predictions and probabilities whether the
folds ran in this process, in worker processes or as Ray tasks, at one torch thread per fold
(torch 2.4's CPU kernels sum in a thread-count-dependent order, so the README promises equal
bits at equal thread counts only); a run resumes under another executor; a failed fold is kept
as a traceback, the finished ones are kept, and a re-run finishes the run."""

from __future__ import annotations

import dataclasses
import sys
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from types import SimpleNamespace

import pytest
import torch

from fixtures import faults
from fixtures.reporters import StopAfter
from leaderboard.store import read_result
from registry.errors import ExecutorError, FoldError
from zoo.bench import BenchSpec, ExecutorSpec, Reporter, plan_benchmark, run_benchmark
from zoo.bench import executors
from zoo.engine.trainer import FoldData

FAST = {"epochs": 1, "batch_size": 32}  # STSTNet: 1,683 parameters on 28 px inputs; 12 LOSO folds


def bench(out, name="local", **kw):
    executor = ExecutorSpec(name, **kw)
    return BenchSpec(model="ststnet", device="cpu", out=out, overrides=FAST, executor=executor)


def per_clip(result: dict) -> list:
    return [(s["clip"], s["prediction"], s["probabilities"]) for f in result["folds"] for s in f["samples"]]


class Folds(Reporter):
    def __init__(self):
        self.started, self.reused, self.messages = [], [], []

    def message(self, text):
        self.messages.append(text)

    def fold_started(self, fold, number, total, epochs):
        self.started.append(fold.name)

    def fold_finished(self, fold, record, reused):
        if reused:
            self.reused.append(fold.name)


@pytest.fixture(scope="module", autouse=True)
def one_thread_per_fold():
    """Every executor here trains a fold on one thread: in-process runs on this process's one
    thread, 2 workers of a machine seen as 2 cores, Ray tasks of one CPU each."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(executors, "usable_cores", lambda: 2)
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run with every fold in this process, one after another."""
    return read_result(run_benchmark(plan_benchmark(bench(tmp_path_factory.mktemp("local")))))


def test_process_workers_give_the_local_predictions(tmp_path, reference):
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path, "process", workers=2))))
    assert result["run_id"] == reference["run_id"]  # the executor is not part of a run's identity
    assert per_clip(result) == per_clip(reference) and result["metrics"] == reference["metrics"]
    assert [f["name"] for f in result["folds"]] == [f["name"] for f in reference["folds"]]
    assert result["environment"]["executor"] == {"name": "process", "workers": 2, "threads_per_fold": 1}
    assert reference["environment"]["executor"]["name"] == "local"


def test_auto_runs_several_cpu_folds_on_single_thread_workers_and_one_fold_locally(tmp_path, reference):
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path / "loso", "auto"))))
    assert result["environment"]["executor"] == {"name": "process", "workers": 2, "threads_per_fold": 1}
    assert per_clip(result) == per_clip(reference)  # one thread per fold, as the local reference here
    holdout = dataclasses.replace(bench(tmp_path / "holdout", "auto"), protocol="holdout")
    assert read_result(run_benchmark(plan_benchmark(holdout)))["environment"]["executor"]["name"] == "local"


def test_stacked_folds_give_the_local_predictions_and_finish_a_local_run(tmp_path, reference):
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan_benchmark(bench(tmp_path)), StopAfter(3))
    folds = Folds()
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path, "stacked")), folds))
    assert len(folds.reused) == 3 and len(folds.started) == 12
    assert result["run_id"] == reference["run_id"]
    assert per_clip(result) == per_clip(reference) and result["metrics"] == reference["metrics"]
    assert result["environment"]["executor"]["name"] == "stacked"


def test_process_workers_read_the_data_from_shared_memory():
    data = FoldData({"flow": torch.zeros(4, 2, 3, 3)}, torch.zeros(4).long(), ("a",) * 4)
    for tensor in (*data.inputs.values(), data.labels):
        tensor.share_memory_()
    context = torch.multiprocessing.get_context("spawn")
    with executors.ProcessPoolExecutor(1, mp_context=context, initializer=executors._start_worker,
                                       initargs=(data, 1)) as pool:
        shared = pool.submit(_worker_view).result()
    assert shared == (True, True)


def _worker_view():
    return executors._shared.inputs["flow"].is_shared(), executors._shared.labels.is_shared()


def test_a_local_run_interrupted_finishes_under_process(tmp_path, reference):
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan_benchmark(bench(tmp_path)), StopAfter(3))
    folds = Folds()
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path, "process", workers=2)), folds))
    assert folds.reused == ["sub01", "sub02", "sub03"] and len(folds.started) == 12
    assert per_clip(result) == per_clip(reference)


class WorkerDiesIn:
    """A pool whose worker dies running fold ``dies``: that fold's future fails, and every later
    submit is refused, as ``ProcessPoolExecutor`` does once it has seen the death, which may be
    before the runner has collected the dead fold."""

    def __init__(self, dies: str):
        self.dies, self.broken = dies, False

    def submit(self, fn, job):
        if self.broken:
            raise BrokenProcessPool("A child process terminated abruptly")
        future = Future()
        if job.fold.name == self.dies:
            self.broken = True
            future.set_exception(BrokenProcessPool("A child process terminated abruptly"))
        else:
            future.set_result(f"trained {job.fold.name}")
        return future


def test_a_fold_refused_by_a_pool_broken_meanwhile_waits_for_the_next_pool():
    jobs = [SimpleNamespace(fold=SimpleNamespace(name=f"sub0{i}")) for i in range(1, 6)]
    waiting, started = list(jobs), []
    executor = executors.ProcessExecutor(ExecutorSpec("process", workers=3))
    outcomes = list(executor._drain(WorkerDiesIn("sub02"), 3, waiting,
                                    lambda job: started.append(job.fold.name)))
    assert [(job.fold.name, outcome) for job, outcome in outcomes if isinstance(outcome, str)] == [
        ("sub01", "trained sub01")
    ]
    failed = [(job.fold.name, outcome.traceback) for job, outcome in outcomes if not isinstance(outcome, str)]
    assert len(failed) == 1 and failed[0][0] == "sub02" and "died" in failed[0][1]
    assert started == ["sub01", "sub02"]  # sub03 was refused: not announced, not lost
    assert [job.fold.name for job in waiting] == ["sub03", "sub04", "sub05"]


@pytest.mark.parametrize("fault", ["raise_in_sub03", "die_in_sub03"])
def test_a_failed_worker_fold_keeps_its_traceback_and_the_rerun_finishes(tmp_path, reference, monkeypatch,
                                                                         fault):
    plan = plan_benchmark(bench(tmp_path, "process", workers=2))
    with monkeypatch.context() as patch:
        patch.setattr(executors, "_attempt_shared", getattr(faults, fault))
        with pytest.raises(FoldError) as failed:
            run_benchmark(plan)
    partial = next((tmp_path / ".partial").iterdir())
    tracebacks = sorted(p.name for p in partial.glob("*.traceback.txt"))
    kept = sorted(p.stem for p in partial.glob("*.json"))
    assert "sub03.traceback.txt" in tracebacks and "sub03" not in kept
    assert len(kept) + len(tracebacks) == 12  # a dead worker also loses the fold beside it, no more
    assert str(partial / "sub03.traceback.txt") in str(failed.value)
    assert f"{len(tracebacks)} of 12 folds failed" in str(failed.value)
    expected = "RuntimeError: injected fault in fold sub03" if fault == "raise_in_sub03" else "died"
    assert expected in (partial / "sub03.traceback.txt").read_text()
    folds = Folds()
    result = read_result(run_benchmark(plan, folds))
    assert sorted(folds.reused) == kept
    assert per_clip(result) == per_clip(reference)
    assert not partial.exists()


def test_ray_missing_or_out_of_reach_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "ray", None)  # import ray fails as if not installed
        with pytest.raises(ExecutorError, match=r'--executor ray \(a new local cluster\) needs Ray, which is not '
                           r'installed: pip install "mer-zoo\[ray\]"'):
            plan_benchmark(bench(tmp_path, "ray"))
    pytest.importorskip("ray")
    plan = plan_benchmark(bench(tmp_path / "results", "ray", ray_address="127.0.0.1:1"))
    with pytest.raises(ExecutorError, match=r"--executor ray: cannot reach the Ray cluster at 127.0.0.1:1 .*"
                       r'pip install "mer-zoo\[ray\]"'):
        run_benchmark(plan)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "kw,message",
    [({"name": "slurm"}, "--executor must be one of local, process, ray, stacked, auto, not 'slurm'"),
     ({"name": "process", "workers": 0}, "--workers must be between 1 and the"),
     ({"name": "ray", "cpus_per_fold": 0}, "--cpus-per-fold must be positive, not 0")],
)
def test_bad_executor_settings_fail_before_anything_is_written(tmp_path, kw, message):
    from registry.errors import ConfigError

    spec = BenchSpec(model="ststnet", device="cpu", out=tmp_path / "results", executor=ExecutorSpec(**kw))
    with pytest.raises(ConfigError, match=message):
        plan_benchmark(spec)
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.ray
def test_ray_tasks_give_the_local_predictions_and_finish_a_local_run(tmp_path, reference, local_ray):
    result = read_result(run_benchmark(plan_benchmark(bench(tmp_path / "ray", "ray"))))
    assert per_clip(result) == per_clip(reference) and result["run_id"] == reference["run_id"]
    assert result["environment"]["executor"]["name"] == "ray"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(plan_benchmark(bench(tmp_path / "resumed")), StopAfter(2))
    folds = Folds()
    resumed = read_result(run_benchmark(plan_benchmark(bench(tmp_path / "resumed", "ray")), folds))
    assert folds.reused == ["sub01", "sub02"] and per_clip(resumed) == per_clip(reference)
    assert local_ray.is_initialized()  # a cluster the caller started is left running
