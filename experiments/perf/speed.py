"""Issue #12 speed evidence: mer-zoo's training stack against the machine's compute floor and
against a naive per-fold loop written the way published MER code is, in one run.

    python -m experiments.perf.speed                          # the full benchmark
    python -m experiments.perf.speed --epochs 1 --folds 1     # a quick check (the table says partial)

Per dataset x model x executor x precision, writes ``results/speed.csv`` and ``speed.md``:

- preprocessing time with a cold cache (``prepare`` into an empty cache, every core);
- each configuration as a user runs it: ``zoo bench`` in a fresh process on that cache, at
  ``--threads`` threads; its LOSO wall time is that process's plus the preprocessing; its
  peak RSS is the process's own (``wait4``);
- train clips/s and achieved GFLOP/s of the folds' training: FLOPs of one train step
  (forward and backward, both counted by ``FlopCounterMode``, no x3 estimate) times the clips
  trained, plus the test subject's forward pass, over the folds' recorded seconds; against
  the peak of the same dtype measured here (the better of a 2048^3 matmul and a 3x3
  convolution at 56 px, 64 channels, at the same thread count): their ratio is the distance
  to the compute floor;
- the naive loop, fp32, in a fresh process too: a torch ``Dataset`` that re-reads the onset
  and apex JPEGs with PIL and re-transforms them (torchvision resize, normalise, flip,
  rotate, crop) every epoch, a ``DataLoader`` with 0 workers, one fresh model per subject,
  the same network, epochs, batch size, optimizer and learning rate.

The naive loop runs the frame models (inputs: onset/apex/offset frames, e.g.
``diff_resnet18``) only. A flow model's naive twin would compute OpenCV flow per sample per
epoch; published code computes flow once, offline, so that twin would inflate the speed-up
with work no one does. ``diff_resnet18`` is the same ResNet-18 as ``flow_resnet18`` on the
frames themselves, so its pair measures the training stack alone.

``--executors``: ``local`` is ``zoo bench`` as it is; any other name is passed on as
``zoo bench --executor NAME`` (a configuration zoo bench refuses is a row with its error).
``--folds N`` stops each ``zoo bench`` once N LOSO folds are recorded and trains the naive
loop on the same N folds.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import integrity
from benchmarks.datasets import locate
from benchmarks.preprocess import PreprocessConfig, prepare
from benchmarks.records import PREPARED_CHANNELS, Clip
from registry import DATASETS, PROTOCOLS
from zoo.bench import BenchSpec, plan_benchmark, select_samples
from zoo.engine.trainer import IMAGE_KEYS
from zoo.models import create_model, forward_flops

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

TARGET_SPEEDUP = 3.0  # naive wall time / mer-zoo wall time
TARGET_FLOOR_RATIO = 1.5  # fold training seconds / seconds at the measured peak
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Workload:
    """One dataset and model as ``zoo bench`` would plan them, and the clips of its folds."""

    dataset: str
    model: str
    root: Path
    clips: list[Clip]
    labels: list[int]
    folds: list  # benchmarks.protocols.Fold: the first of the runner's, in its order
    total_folds: int
    num_classes: int
    hyperparameters: dict
    preprocess: PreprocessConfig

    @property
    def partial(self) -> bool:
        return len(self.folds) < self.total_folds


def throughput(step: Callable[[], object], flops: float, seconds: float) -> float:
    """GFLOP/s of ``step`` repeated for about ``seconds`` after one warm-up call."""
    step()
    runs, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or runs == 0:
        step()
        runs += 1
    return flops * runs / elapsed / 1e9


def measure_peak(precision: str, seconds: float = 2.0) -> dict[str, float]:
    """The machine's throughput in ``precision``: a large matmul and a 3x3 convolution."""
    dtype = DTYPES[precision]
    n = 2048
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    x = torch.randn(16, 64, 56, 56).to(dtype, memory_format=torch.channels_last)
    w = torch.randn(64, 64, 3, 3).to(dtype, memory_format=torch.channels_last)
    with torch.no_grad():
        matmul = throughput(lambda: a @ b, 2 * n**3, seconds)
        conv = throughput(lambda: F.conv2d(x, w, padding=1), 2 * 16 * 64 * 56 * 56 * 64 * 9, seconds)
    return {"matmul": round(matmul, 1), "conv3x3": round(conv, 1), "peak": round(max(matmul, conv), 1)}


def train_flops_per_clip(model: str, num_classes: int, input_size: int) -> float:
    """FLOPs of one training step per clip: forward and backward, as FlopCounterMode counts."""
    net = create_model(model, num_classes)
    size = net.inputs.size or input_size
    inputs = {k: torch.randn(2, PREPARED_CHANNELS[k], size, size) for k in net.inputs.keys}
    net.train()  # batch norm needs two samples
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(**inputs), torch.tensor([0, 1])).backward()
    return counter.get_total_flops() / 2


def workload(dataset: str, model: str, epochs: int, folds: int | None, root: Path | None = None) -> Workload:
    root = root or locate(dataset)  # a generated dataset is generated here, outside any timing
    plan = plan_benchmark(BenchSpec(model=model, dataset=dataset, data_root=str(root), device="cpu",
                                    overrides={"epochs": epochs}))
    index = DATASETS.get(dataset).obj(root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    by_key = {clip.key: clip for clip in index.clips}
    all_folds = PROTOCOLS.get("loso").obj(list(subjects), 0)  # seed 0, as zoo bench's default
    return Workload(dataset, model, root, [by_key[k] for k in keys], labels, all_folds[: folds or None],
                    len(all_folds), plan.class_set.num_classes, plan.hyperparameters, plan.preprocess)


def preprocessing_seconds(work: Workload, cache: Path) -> float:
    """Cold-cache preprocessing of the workload's dataset into ``cache`` (left warm)."""
    index = DATASETS.get(work.dataset).obj(work.root)
    started = time.perf_counter()
    prepare(index, work.preprocess, cache)
    return time.perf_counter() - started


def run_child(command: list[str], env: dict[str, str], log: Path,
              stop: Callable[[], bool] = lambda: False) -> tuple[float, float]:
    """Run ``command`` until it exits or ``stop()``; its wall seconds and its own peak RSS (GiB).
    A child that fails is a :class:`subprocess.CalledProcessError` carrying its log's last line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as handle:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if stop():
                seconds = time.perf_counter() - started
                child.terminate()
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = 0
                return seconds, usage.ru_maxrss / 2**20
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        lines = log.read_text().strip().splitlines() or ["(no output)"]
        raise subprocess.CalledProcessError(child.returncode, command, output=lines[-1])
    return seconds, usage.ru_maxrss / 2**20


def child_env(threads: int, cache: Path) -> dict[str, str]:
    return {**os.environ, "ZOO_CACHE": str(cache), "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads), "COLUMNS": "120", "PYTHONPATH": str(ROOT)}


def zoo_bench(work: Workload, precision: str, executor: str, threads: int, cache: Path, tmp: Path
              ) -> tuple[float, float, list[dict]]:
    """``zoo bench`` on the warm cache: wall seconds, peak RSS and the records of its folds."""
    out = tmp / f"{work.dataset}-{work.model}-{precision}-{executor}"
    command = [sys.executable, "-c", "from zoo.cli import main; main()", "bench", work.model,
               "--dataset", work.dataset, "--data-root", str(work.root), "--protocol", "loso",
               "--device", "cpu", "--epochs", str(work.hyperparameters["epochs"]),
               "--precision", precision, "--out", str(out)]
    if executor != "local":
        command += ["--executor", executor]
    partials = lambda: sorted((out / ".partial").glob("*/*.json"))  # noqa: E731
    enough = lambda: work.partial and len(partials()) >= len(work.folds)  # noqa: E731
    seconds, rss = run_child(command, child_env(threads, cache), tmp / "logs" / f"{out.name}.log", enough)
    finished = sorted(out.glob("*.json"))
    records = (json.loads(finished[0].read_text())["folds"] if finished
               else [integrity.read_json(path) for path in partials()])
    names = [fold.name for fold in work.folds]
    return seconds, rss, [r for r in records if r["name"] in names]


def naive_loop(work: Workload, threads: int, cache: Path, tmp: Path) -> tuple[float, float, dict]:
    """The naive loop on the workload's folds in a fresh process: wall, peak RSS, its report."""
    job = tmp / f"naive-{work.dataset}-{work.model}.json"
    job.write_text(json.dumps({"dataset": work.dataset, "model": work.model, "root": str(work.root),
                               "epochs": work.hyperparameters["epochs"], "folds": len(work.folds)}))
    command = [sys.executable, str(Path(__file__).resolve()), "--naive-job", str(job)]
    seconds, rss = run_child(command, child_env(threads, cache), tmp / "logs" / f"{job.stem}.log")
    return seconds, rss, json.loads(job.with_suffix(".out.json").read_text())


# --- the naive loop, as published MER code writes it ---------------------------------------

class FrameClips(torch.utils.data.Dataset):
    """Every item re-reads its frames from disk and re-transforms them, every epoch."""

    def __init__(self, clips: list[Clip], labels: list[int], keys: tuple[str, ...], size: int, train: bool):
        from torchvision import transforms as T

        self.clips, self.labels, self.keys = clips, labels, keys
        self.load = T.Compose([T.Resize((size, size)), T.ToTensor(),
                               T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        # the frames of a clip stacked, so one random flip/rotation/crop moves them together
        self.augment = T.Compose([T.RandomHorizontalFlip(), T.RandomRotation(3),
                                  T.RandomCrop(size, padding=round(size * 15 / 224))]) if train else None

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> tuple[dict[str, torch.Tensor], int]:
        from PIL import Image

        clip = self.clips[i]
        numbers = {"onset": clip.onset, "apex": clip.apex,
                   "offset": clip.offset if clip.offset in clip.frames else clip.apex}
        frames = torch.cat([self.load(Image.open(clip.frame(numbers[k])).convert("RGB")) for k in self.keys])
        if self.augment:
            frames = self.augment(frames)
        return dict(zip(self.keys, frames.split(3))), self.labels[i]


def naive_fold(work: Workload, fold, seed: int) -> list[int]:
    """One fresh model trained on the fold's training subjects; its test predictions."""
    hp = work.hyperparameters
    torch.manual_seed(seed)
    model = create_model(work.model, work.num_classes)
    keys = model.inputs.keys
    params = model.parameters()
    optimizer = (torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp["weight_decay"])
                 if hp["optimizer"] == "adamw"
                 else torch.optim.SGD(params, lr=hp["lr"], momentum=0.9, weight_decay=hp["weight_decay"]))
    pick = lambda rows: ([work.clips[i] for i in rows], [work.labels[i] for i in rows])  # noqa: E731
    train = FrameClips(*pick(fold.train), keys, hp["input_size"], train=True)
    loader = torch.utils.data.DataLoader(train, batch_size=hp["batch_size"], shuffle=True, num_workers=0,
                                         drop_last=len(train) % hp["batch_size"] == 1)  # no batch of 1
    for _ in range(hp["epochs"]):
        model.train()
        for inputs, labels in loader:
            loss = F.cross_entropy(model(**inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    test = torch.utils.data.DataLoader(FrameClips(*pick(fold.test), keys, hp["input_size"], train=False),
                                       batch_size=hp["batch_size"], num_workers=0)
    with torch.no_grad():
        return [p for inputs, _ in test for p in model(**inputs).argmax(1).tolist()]


def run_naive_job(job: Path) -> None:
    spec = json.loads(job.read_text())
    work = workload(spec["dataset"], spec["model"], spec["epochs"], spec["folds"], Path(spec["root"]))
    correct = seen = 0
    fold_seconds = []
    for fold in work.folds:
        started = time.perf_counter()
        predictions = naive_fold(work, fold, seed=0)
        fold_seconds.append(round(time.perf_counter() - started, 2))
        correct += sum(p == work.labels[i] for p, i in zip(predictions, fold.test))
        seen += len(fold.test)
    job.with_suffix(".out.json").write_text(json.dumps({"fold_seconds": fold_seconds,
                                                        "accuracy": round(correct / seen, 4)}))


def naive_supported(model: str) -> bool:
    return set(create_model(model, 5).inputs.keys) <= set(IMAGE_KEYS)


# --- the report ---------------------------------------------------------------------------

def fold_compute(work: Workload, records: list[dict]) -> tuple[float, float, float]:
    """Clips trained, FLOPs done and seconds taken by the recorded folds."""
    size = work.hyperparameters["input_size"]
    per_train = train_flops_per_clip(work.model, work.num_classes, size)
    per_test = forward_flops(create_model(work.model, work.num_classes), size)
    epochs = work.hyperparameters["epochs"]
    clips = sum(r["num_train"] * epochs for r in records)
    flops = sum(r["num_train"] * epochs * per_train + len(r["samples"]) * per_test for r in records)
    return clips, flops, sum(r["seconds"] for r in records)


def verdict(value: float | None, target: float, higher_is_better: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= target if higher_is_better else value <= target) else "not met"


COLUMNS = ["dataset", "model", "executor", "precision", "threads", "folds", "epochs", "preprocess_s",
           "train_clips_per_s", "gflops", "peak_gflops", "floor_ratio", "loso_wall_s", "peak_rss_gib",
           "naive_wall_s", "naive_rss_gib", "speedup", "status", "speedup_target", "floor_target"]
HEADERS = ["dataset", "model", "executor", "precision", "threads", "folds", "epochs", "preprocess s (cold)",
           "train clips/s", "GFLOP/s", "peak GFLOP/s", "x compute floor", "LOSO wall s", "peak RSS GiB",
           "naive wall s", "naive RSS GiB", "speed-up", "status",
           f"speed-up >= {TARGET_SPEEDUP:g}x", f"within {TARGET_FLOOR_RATIO:g}x of floor"]


def markdown(rows: list[dict], peaks: dict, meta: dict) -> str:
    partial = [r for r in rows if r["folds"].endswith("(partial)")]
    lines = [
        "# mer-zoo speed: training stack vs compute floor vs a naive per-fold loop",
        "",
        f"Machine: {meta['cpu']}, {meta['cpus']} CPUs, {meta['platform']}; torch {meta['torch']}; "
        f"{meta['threads']} thread(s) per run.",
        "Peak GFLOP/s measured here: "
        + "; ".join(f"{p}: matmul {v['matmul']}, 3x3 conv {v['conv3x3']}" for p, v in peaks.items()) + ".",
        "FLOPs: forward and backward of a train step counted by FlopCounterMode (not x3 of forward), "
        "plus the test subject's forward pass; over the folds' recorded seconds.",
        "LOSO wall = cold-cache preprocessing + the zoo bench process; naive loop: fp32, fresh process.",
    ]
    if partial:
        lines.append(f"**PARTIAL: only the first LOSO folds ran ({partial[0]['folds'].split()[0]}); "
                     "not the full-LOSO figures.**")
    if meta.get("note"):
        lines.append(f"Also running: {meta['note']}")
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def measure(args: argparse.Namespace, tmp: Path) -> tuple[list[dict], dict]:
    torch.set_num_threads(args.threads)
    peaks = {p: measure_peak(p) for p in args.precisions}
    rows = []
    for dataset in args.datasets:
        for model in args.models:
            work = workload(dataset, model, args.epochs, args.folds)
            folds = f"{len(work.folds)}/{work.total_folds}" + (" (partial)" if work.partial else "")
            cache = tmp / f"cache-{dataset}-{model}"
            preprocess = preprocessing_seconds(work, cache)
            naive = naive_loop(work, args.threads, cache, tmp) if naive_supported(model) else None
            for executor in args.executors:
                for precision in args.precisions:
                    row = dict.fromkeys(COLUMNS)
                    row.update(dataset=dataset, model=model, executor=executor, precision=precision,
                               threads=args.threads, folds=folds, epochs=args.epochs,
                               preprocess_s=round(preprocess, 1), peak_gflops=peaks[precision]["peak"])
                    if naive:
                        row.update(naive_wall_s=round(naive[0], 1), naive_rss_gib=round(naive[1], 2))
                    try:
                        seconds, rss, records = zoo_bench(work, precision, executor, args.threads, cache, tmp)
                    except subprocess.CalledProcessError as failed:
                        row["status"] = f"failed: {failed.output}"
                        rows.append(row)
                        continue
                    clips, flops, fold_seconds = fold_compute(work, records)
                    achieved = flops / fold_seconds / 1e9
                    wall = preprocess + seconds
                    row.update(
                        train_clips_per_s=round(clips / fold_seconds, 1), gflops=round(achieved, 1),
                        floor_ratio=round(peaks[precision]["peak"] / achieved, 2), loso_wall_s=round(wall, 1),
                        peak_rss_gib=round(rss, 2), speedup=round(naive[0] / wall, 2) if naive else None,
                        status="ok",
                    )
                    row["speedup_target"] = verdict(row["speedup"], TARGET_SPEEDUP, True)
                    row["floor_target"] = verdict(row["floor_ratio"], TARGET_FLOOR_RATIO, False)
                    rows.append(row)
                    print(row, flush=True)
    return rows, peaks


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.is_file() else []
    return names[0] if names else platform.processor() or "unknown CPU"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    split = lambda text: [part.strip() for part in text.split(",") if part.strip()]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=split, default=split("flow_resnet18,diff_resnet18"))
    parser.add_argument("--datasets", type=split, default=split("synth,synth-casme2-size"))
    parser.add_argument("--executors", type=split, default=split("local"),
                        help="local, or names zoo bench --executor takes (process, ray)")
    parser.add_argument("--precisions", type=split, default=split("fp32,bf16"))
    parser.add_argument("--epochs", type=int, default=15, help="per fold (synth's budget: 15)")
    parser.add_argument("--folds", type=int, default=None, help="only the first N LOSO folds (partial)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--naive-job", type=Path, help=argparse.SUPPRESS)  # the naive loop's own process
    args = parser.parse_args(argv)
    unknown = set(args.precisions) - set(DTYPES)
    if unknown:
        parser.error(f"--precisions: unknown {', '.join(sorted(unknown))}; choose from {', '.join(DTYPES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.naive_job:
        run_naive_job(args.naive_job)
        return
    with tempfile.TemporaryDirectory(prefix="zoo-speed-") as tmp:
        rows, peaks = measure(args, Path(tmp))
    meta = {"cpu": cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "torch": torch.__version__, "threads": args.threads, "note": args.note}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "speed.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (args.out_dir / "speed.md").write_text(markdown(rows, peaks, meta))
    print(f"written {args.out_dir / 'speed.csv'} and {args.out_dir / 'speed.md'}")


if __name__ == "__main__":
    main()
