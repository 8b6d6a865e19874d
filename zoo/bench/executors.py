"""Executors: where a run's folds train. ``local`` runs them one after another in this process,
``process`` spreads them over this machine's cores, ``ray`` submits them to a Ray cluster,
``stacked`` trains all of them at once as one stacked model (``zoo.engine.stacked``: one
kernel serves every fold, which pays off for small models on a GPU); ``auto`` (the CLI's
default) is ``process`` on a multi-core CPU and ``local`` elsewhere.

Every executor maps fold jobs to outcomes and yields each as soon as it finishes, so the
runner saves every finished fold at once, whatever the executor. The run's prepared data
reaches each worker once (shared memory, Ray's object store), never once per job. A fold
that raises, or whose worker dies, comes back as a :class:`FoldFailure` carrying its
traceback; the other folds go on. A user error (``ZooError``) in a fold stops the run, as it
would in this process.

The same seed gives the same per-clip predictions under every executor, at equal torch thread
counts (``threads``): ``local`` uses this process's, ``process`` gives each of its workers
``cores // workers``, ``ray`` ``--cpus-per-fold`` (at least one).
"""

from __future__ import annotations

import os
import socket
import traceback
import warnings
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

import torch
import torch.multiprocessing

from registry.errors import ConfigError, ExecutorError, ZooError
from zoo.bench.jobs import FoldJob, run_fold, run_folds_stacked
from zoo.engine.trainer import FoldData, FoldOutcome, resolve_device

RAY_INSTALL = 'pip install "mer-zoo[ray]"'
Started = Callable[[FoldJob], None]
EpochFinished = Callable[[FoldJob, int, float], None]


@dataclass(frozen=True)
class FoldFailure:
    """A fold that raised, or whose worker died: why, as a traceback to save."""

    traceback: str


@dataclass(frozen=True)
class ExecutorSpec:
    """The executor asked for and its settings (``zoo bench --executor ...``)."""

    name: str = "local"
    workers: int | None = None  # process: worker processes; None: one per core
    ray_address: str | None = None  # ray: an existing cluster; None: start a local one
    cpus_per_fold: float = 1.0  # ray: CPUs each fold task requests (and its torch threads)
    gpus_per_fold: float = 0.0  # ray: GPUs each fold task requests

    def check(self) -> None:
        """Raise before anything is written on a setting that cannot work."""
        if self.name not in EXECUTORS:
            raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, not '{self.name}'")
        if self.workers is not None and not 1 <= self.workers <= usable_cores():
            raise ConfigError(
                f"--workers must be between 1 and the {usable_cores()} cores this process may use, "
                f"not {self.workers}"
            )
        if not self.cpus_per_fold > 0:
            raise ConfigError(f"--cpus-per-fold must be positive, not {self.cpus_per_fold}")
        if not self.gpus_per_fold >= 0:
            raise ConfigError(f"--gpus-per-fold must be >= 0, not {self.gpus_per_fold}")
        if self.name == "ray":
            import_ray(self.ray_address)


class Executor(Protocol):
    threads: int  # torch threads each fold trains with

    def describe(self) -> dict[str, Any]:
        """What the result's environment records about how the folds ran."""

    def run(
        self, jobs: list[FoldJob], data: FoldData, started: Started, on_epoch: EpochFinished
    ) -> Iterator[tuple[FoldJob, FoldOutcome | FoldFailure]]:
        """Run ``jobs`` on ``data``, yielding each job's outcome as soon as it finishes.

        ``started`` is called as a job is handed to a worker; ``on_epoch`` only by executors
        that can report epochs (``local``)."""

    def close(self) -> None:
        """Let go of what the executor holds (a Ray cluster it started)."""


def attempt(job: FoldJob, data: FoldData, on_epoch: Callable[[int, float], None] | None = None):
    """``run_fold``, with any failure but a user error returned as a :class:`FoldFailure`."""
    try:
        return run_fold(job, data, on_epoch)
    except ZooError:
        raise
    except Exception:
        return FoldFailure(traceback.format_exc())


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class LocalExecutor:
    """One fold after another in this process: epoch progress, no start-up cost."""

    def __init__(self, spec: ExecutorSpec):
        self.threads = torch.get_num_threads()

    def describe(self) -> dict[str, Any]:
        return {"name": "local", "threads_per_fold": self.threads}

    def run(self, jobs, data, started, on_epoch):
        for job in jobs:
            started(job)
            yield job, attempt(job, data, lambda epoch, loss: on_epoch(job, epoch, loss))

    def close(self) -> None: ...


class StackedExecutor:
    """Every fold at once in this process as one stacked model; outcomes come when all finish,
    so an interrupted run trains its unfinished folds again from the start (finished folds of
    an earlier run are reused as ever). A failure fails every fold of the stack."""

    def __init__(self, spec: ExecutorSpec):
        self.threads = torch.get_num_threads()

    def describe(self) -> dict[str, Any]:
        return {"name": "stacked", "threads_per_fold": self.threads}

    def run(self, jobs, data, started, on_epoch):
        if not jobs:
            return
        for job in jobs:
            started(job)
        by_fold = {job.fold.name: job for job in jobs}
        try:
            outcomes = run_folds_stacked(jobs, data, lambda fold, e, loss: on_epoch(by_fold[fold.name], e, loss))
        except ZooError:
            raise
        except Exception:
            failure = FoldFailure(traceback.format_exc())
            outcomes = [failure] * len(jobs)
        yield from zip(jobs, outcomes)

    def close(self) -> None: ...


_shared: FoldData | None = None  # a process worker's view of the run's data


def _start_worker(data: FoldData, threads: int) -> None:
    global _shared
    _shared = data
    torch.set_num_threads(threads)


def _attempt_shared(job: FoldJob) -> FoldOutcome | FoldFailure:
    return attempt(job, _shared)


class ProcessExecutor:
    """Folds in worker processes on this machine, ``workers x threads <= cores``.

    Workers are spawned (not forked: a fork may inherit a CUDA context or OpenMP threads it
    cannot use) and get the prepared data once, at start, as shared memory. At most
    ``workers`` folds are handed out at a time, so when a worker dies the folds lost with it
    are exactly those in flight: they are failed, and the rest go on in a fresh pool.
    """

    def __init__(self, spec: ExecutorSpec):
        cores = usable_cores()
        self.workers = spec.workers or cores
        self.threads = max(1, cores // self.workers)

    def describe(self) -> dict[str, Any]:
        return {"name": "process", "workers": self.workers, "threads_per_fold": self.threads}

    def run(self, jobs, data, started, on_epoch):
        for tensor in (*data.inputs.values(), data.labels):
            tensor.share_memory_()  # in place: every worker maps these pages, none copies them
        waiting = list(jobs)
        while waiting:
            slots = min(self.workers, len(waiting))
            pool = ProcessPoolExecutor(
                slots,
                mp_context=torch.multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(data, self.threads),
            )
            finished = False
            try:
                yield from self._drain(pool, slots, waiting, started)
                finished = True
            finally:  # cut short (Ctrl-C, an error saving a fold): queued folds are not started
                pool.shutdown(wait=finished, cancel_futures=True)

    def _drain(self, pool: ProcessPoolExecutor, slots: int, waiting: list[FoldJob], started: Started):
        """Run ``waiting`` (taking jobs off it, ``slots`` at a time) until it is empty or ``pool`` breaks."""
        running: dict[Future, FoldJob] = {}
        broken = False
        while running or (waiting and not broken):
            while waiting and not broken and len(running) < slots:
                try:
                    future = pool.submit(_attempt_shared, waiting[0])
                except BrokenProcessPool:  # a worker died since the last wait; its fold fails below
                    broken = True  # and this one waits, not started, for the next pool
                    break
                job = waiting.pop(0)
                started(job)
                running[future] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    outcome = FoldFailure(
                        f"the worker process running fold {job.fold.name}, or a fold beside it, died:\n"
                        + "".join(traceback.format_exception(exc))
                    )
                yield job, outcome

    def close(self) -> None: ...


def import_ray(address: str | None):
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError(
            f"--executor ray ({cluster_name(address)}) needs Ray, which is not installed: {RAY_INSTALL}"
        ) from exc
    return ray


def cluster_name(address: str | None) -> str:
    return f"cluster at {address}" if address else "a new local cluster"


def probe(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``[ray://]HOST:PORT`` nobody listens on (Ray itself waits a minute)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if sep and port.isdigit():
        socket.create_connection((host, int(port)), timeout=timeout_s).close()


def _ray_fold(job: FoldJob, arrays: tuple, threads: int) -> FoldOutcome | FoldFailure:
    torch.set_num_threads(threads)
    return attempt(job, from_arrays(arrays))


def to_arrays(data: FoldData) -> tuple:
    """``data`` as numpy arrays, which Ray's object store hands to tasks without copying."""
    return {k: v.numpy() for k, v in data.inputs.items()}, data.labels.numpy(), data.subjects


def from_arrays(arrays: tuple) -> FoldData:
    inputs, labels, subjects = arrays
    with warnings.catch_warnings():  # read-only store memory; run_fold only reads (subsets copy)
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
        return FoldData(tensors, torch.from_numpy(labels), subjects)


class RayExecutor:
    """Folds as Ray tasks, each requesting ``cpus_per_fold`` CPUs and ``gpus_per_fold`` GPUs.

    Connects to the cluster at ``ray_address``, or starts a local one (stopped again at the
    end); a driver already connected (``ray.init`` called before) is used as it is. The data
    goes into the object store once. Cluster nodes need mer-zoo installed; a fold's mid-fold
    state is written on the node that trains it, at the run's path.
    """

    def __init__(self, spec: ExecutorSpec):
        self.ray = import_ray(spec.ray_address)
        self.spec = spec
        self.threads = max(1, int(spec.cpus_per_fold))
        self.started_here = not self.ray.is_initialized()
        if self.started_here:
            try:
                if spec.ray_address:
                    probe(spec.ray_address)
                self.ray.init(address=spec.ray_address, include_dashboard=False, log_to_driver=False)
            except (OSError, RuntimeError, ValueError) as exc:  # ConnectionError is an OSError
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ExecutorError(
                    f"--executor ray: cannot reach the Ray {cluster_name(spec.ray_address)} ({first_line}); "
                    "start it (ray start --head), fix --ray-address or leave it out to start a local one; "
                    f"Ray itself: {RAY_INSTALL}"
                ) from exc

    def describe(self) -> dict[str, Any]:
        return {
            "name": "ray",
            "ray": self.ray.__version__,
            "address": self.spec.ray_address,
            "cpus_per_fold": self.spec.cpus_per_fold,
            "gpus_per_fold": self.spec.gpus_per_fold,
            "threads_per_fold": self.threads,
        }

    def run(self, jobs, data, started, on_epoch):
        ray = self.ray
        task = ray.remote(_ray_fold).options(
            num_cpus=self.spec.cpus_per_fold, num_gpus=self.spec.gpus_per_fold, max_retries=0
        )
        arrays = ray.put(to_arrays(data))
        running = {}
        for job in jobs:
            started(job)
            running[task.remote(job, arrays, self.threads)] = job
        try:
            while running:
                (ref,), _ = ray.wait(list(running), num_returns=1)
                job = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    if isinstance(exc.cause, ZooError):
                        raise exc.cause from None
                    outcome = FoldFailure(str(exc))
                except ray.exceptions.RayError as exc:  # the worker or its node died
                    outcome = FoldFailure(f"{type(exc).__name__}: {exc}")
                yield job, outcome
        finally:
            for ref in running:  # cut short: the folds still out are not wanted any more
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()


class AutoExecutor:
    """What ``zoo bench`` uses unless told: on a CPU with several cores and a run of several
    folds, ``process`` with one single-thread worker per core (small MER models use cores
    better as independent folds than as threads of one: STSTNet's convolution backward does
    not get faster with a second thread, and its dropout masks are drawn on one); otherwise
    (one fold, one core, a GPU) ``local``. Decided when the folds are known; the result
    records the executor that ran them."""

    def __init__(self, spec: ExecutorSpec):
        self.spec = spec
        self.chosen: Executor = LocalExecutor(spec)

    @property
    def threads(self) -> int:
        return self.chosen.threads

    def describe(self) -> dict[str, Any]:
        return self.chosen.describe()

    def run(self, jobs, data, started, on_epoch):
        on_cpu = bool(jobs) and resolve_device(jobs[0].config.device).type == "cpu"
        if on_cpu and len(jobs) > 1 and usable_cores() > 1:
            self.chosen = ProcessExecutor(ExecutorSpec("process", min(self.spec.workers or usable_cores(), len(jobs))))
        yield from self.chosen.run(jobs, data, started, on_epoch)

    def close(self) -> None:
        self.chosen.close()


EXECUTORS = {"local": LocalExecutor, "process": ProcessExecutor, "ray": RayExecutor, "stacked": StackedExecutor,
             "auto": AutoExecutor}


def open_executor(spec: ExecutorSpec) -> Executor:
    """The executor of ``spec``, ready to run (a Ray cluster reached or started); ``close()`` it."""
    spec.check()
    return EXECUTORS[spec.name](spec)
