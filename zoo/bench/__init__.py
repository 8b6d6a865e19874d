"""Running benchmarks: plan (check everything, write nothing), fold jobs, the runner and the
result document. It sits above ``benchmarks/`` (data, protocols, metrics) and ``zoo.engine``
(training), and below the CLI; nothing under ``benchmarks/`` or ``leaderboard/`` imports it.
"""

from zoo.bench.jobs import FoldJob, fold_seed, run_fold
from zoo.bench.plan import BenchPlan, BenchSpec, plan_benchmark, select_samples
from zoo.bench.runner import Reporter, run_benchmark

__all__ = [
    "BenchPlan",
    "BenchSpec",
    "FoldJob",
    "Reporter",
    "fold_seed",
    "plan_benchmark",
    "run_benchmark",
    "run_fold",
    "select_samples",
]
