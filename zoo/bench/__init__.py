"""Running benchmarks: plan (check everything, write nothing), fold jobs, executors (where
folds run), the runner, the result document and sweeps of many runs. It sits above
``benchmarks/`` (data, protocols, metrics) and ``zoo.engine`` (training), and below the CLI; nothing under ``benchmarks/`` or ``leaderboard/`` imports it.
"""

from zoo.bench.executors import EXECUTORS, ExecutorSpec
from zoo.bench.jobs import FoldJob, fold_seed, run_fold
from zoo.bench.plan import BenchPlan, BenchSpec, plan_benchmark, select_samples
from zoo.bench.runner import Reporter, existing_result, run_benchmark

__all__ = [
    "BenchPlan",
    "BenchSpec",
    "EXECUTORS",
    "ExecutorSpec",
    "FoldJob",
    "Reporter",
    "existing_result",
    "fold_seed",
    "plan_benchmark",
    "run_benchmark",
    "run_fold",
    "select_samples",
]
