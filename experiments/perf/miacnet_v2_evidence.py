"""Evidence for issue #10 on ``synth-v2`` (action units that also change the skin's appearance):
MIACNet from scratch vs. fine-tuned from MA2MI, what the pre-training's length and its pixel
term change, which fusion of the two branches works, the ablations (no position branch;
feature difference), and the paper-size pair (width 64, 224 px: hours per run on a CPU, so
meant for ``--device cuda``).

Every MA2MI configuration is pre-trained once per seed on ``synth-macro-v2`` (``zoo pretrain
ma2mi --seed S``), and the LOSO run of seed S fine-tunes from the pre-training of seed S, so the
spread over seeds covers both. Runs are ``zoo bench`` processes (one thread each, ``--jobs`` at a
time) writing the published result files into ``leaderboard/results/``; a run or a pre-training
already done is not repeated, so the script can be stopped and started again. Summary:
``experiments/perf/results/miacnet_v2_evidence.{json,md}``.

    ZOO_CACHE=/tmp/zc-evidence python -m experiments.perf.miacnet_v2_evidence --jobs 2 \\
        [--configs scratch,ma2mi] [--note "what else ran"]
    python -m experiments.perf.miacnet_v2_evidence --device cuda --jobs 1 \\
        --configs "paper size scratch,paper size ma2mi"
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.files import cache_home
from experiments.perf._evidence import SUMMARY, bench, existing, markdown_table, summarize_runs
from registry.options import model_options
from zoo.io.weights import checkpoint_meta

DATASET, CORPUS = "synth-v2", "synth-macro-v2"
WIDTH = "16"  # the CPU-sized trunk (docs/miacnet.md); the paper's is width=64
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Pretraining:
    """One MA2MI recipe (defaults otherwise); made once per seed."""

    epochs: int = 20
    pixel_weight: float = 1.0
    trunk: tuple[tuple[str, str], ...] = ()  # MIACNet options beyond width that shape the trunk
    width: str = WIDTH
    input_size: int = 112

    def tag(self, seed: int) -> str:
        """What sets this recipe apart, for its folder and log names."""
        trunk = "".join(f"-{k}={v}" for k, v in self.trunk)
        size = f"-{self.input_size}px" if self.input_size != 112 else ""
        return f"{trunk}{size}-e{self.epochs}-px{self.pixel_weight:g}-s{seed}"

    def folder(self, seed: int) -> Path:
        return cache_home() / "pretrained" / f"ma2mi-{CORPUS}-w{self.width}{self.tag(seed)}"

    def log(self, seed: int) -> Path:
        width = f"-w{self.width}" if self.width != WIDTH else ""
        return SUMMARY / "logs" / f"ma2mi-v2-pretrain{width}{self.tag(seed)}.log"

    def options(self) -> dict[str, str]:
        return {"width": self.width, **dict(self.trunk)}

    def matches(self, record: dict | None, seed: int) -> bool:
        """Whether a result's ``pretraining`` record was made by this recipe at this seed."""
        if record is None:
            return False
        config = record.get("config") or {}
        trunk = model_options("miacnet", self.options())
        return (record.get("corpus") == CORPUS and config.get("epochs") == self.epochs
                and config.get("pixel_weight") == self.pixel_weight and config.get("seed") == seed
                and config.get("input_size") == self.input_size
                and all(trunk[k] == v for k, v in (record.get("model_options") or {}).items()))


@dataclass(frozen=True)
class Config:
    """One row: MIACNet options beyond ``width``, its pre-training (``None``: from scratch) and
    the fine-tuning's input size (``None``: synth's budget, 112 px)."""

    options: dict[str, str]
    pretraining: Pretraining | None = None
    input_size: int | None = None
    seeds: tuple[int, ...] = SEEDS

    def overrides(self) -> dict[str, int]:
        return {"input_size": self.input_size} if self.input_size else {}


SUM = {"fusion": "sum"}  # the studies of pre-training hold MMNet's fusion fixed
PAPER = {"width": "64", "fusion": "gate"}  # the paper's trunk, at 224 px below
# The order is the priority. The ablations start from the gate fusion (the best one) and
# pre-train their own trunk; without a position branch the fusion is moot, but it is
# recorded, so it is pinned too. The paper-size pair runs once (seed 0): hours per run on CPU.
CONFIGS: dict[str, Config] = {
    "scratch": Config(SUM),
    "ma2mi": Config(SUM, Pretraining()),
    "ma2mi fusion=gate": Config({"fusion": "gate"}, Pretraining()),
    "ma2mi fusion=concat": Config({"fusion": "concat"}, Pretraining()),
    "ma2mi 5 epochs": Config(SUM, Pretraining(epochs=5)),
    "ma2mi latent-only": Config(SUM, Pretraining(pixel_weight=0.0)),
    "ma2mi position=off": Config({"position": "off", "fusion": "gate"}, Pretraining(trunk=(("position", "off"),))),
    "ma2mi fusion=gate diff=feature": Config({"fusion": "gate", "diff": "feature"},
                                             Pretraining(trunk=(("diff", "feature"),))),
    "ma2mi 60 epochs": Config(SUM, Pretraining(epochs=60)),
    "paper size scratch": Config(PAPER, input_size=224, seeds=(0,)),
    "paper size ma2mi": Config(PAPER, Pretraining(width="64", input_size=224), input_size=224, seeds=(0,)),
}


def options_of(name: str) -> dict[str, str]:
    return {"width": WIDTH, **CONFIGS[name].options}


def published(name: str, seed: int) -> dict | None:
    """The published LOSO result of configuration ``name`` at ``seed`` on synth-v2, or ``None``."""
    from registry import MODELS

    config = CONFIGS[name]
    recipe = config.pretraining
    options = options_of(name)
    if recipe:  # a run given --pretrained records how it was initialised (init=ma2mi)
        options |= MODELS.get("miacnet").meta.get("pretrained_options", {})
    return existing("miacnet", options, seed, DATASET, config.overrides(),
                    pretraining=lambda record: recipe.matches(record, seed) if recipe else record is None)


def pretrain(recipe: Pretraining, seed: int, device: str) -> Path:
    """The checkpoint of ``recipe`` at ``seed``, made (or resumed) by ``zoo pretrain`` if missing."""
    folder = recipe.folder(seed)
    checkpoint = folder / "ma2mi.safetensors"
    # zoo pretrain writes its final file at the last epoch only, but versions before it wrote one
    # every few epochs: a cached file counts only at the recipe's epochs (zoo pretrain resumes)
    if not checkpoint.is_file() or checkpoint_meta(checkpoint).get("epochs_done") != recipe.epochs:
        command = ["zoo", "pretrain", "ma2mi", "--dataset", CORPUS, "--seed", str(seed), "--epochs",
                   str(recipe.epochs), "--pixel-weight", str(recipe.pixel_weight), "--input-size",
                   str(recipe.input_size), "--device", device, "--out", str(folder)]
        for key, value in recipe.options().items():
            command += ["--opt", f"{key}={value}"]
        log = recipe.log(seed)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        started = time.perf_counter()
        with open(log, "a") as handle:
            subprocess.run(command, check=True, stdout=handle, stderr=subprocess.STDOUT, env=env)
            handle.write(f"\nwall time: {time.perf_counter() - started:.0f} s\n")
    return checkpoint


def run(name: str, seed: int, checkpoint: Future | None, device: str) -> float:
    extra = ("--pretrained", str(checkpoint.result())) if checkpoint else ()
    log = SUMMARY / "logs" / f"miacnet-v2-{name.replace(' ', '-')}-s{seed}.log"
    return bench("miacnet", options_of(name), seed, log, dataset=DATASET, overrides=CONFIGS[name].overrides(),
                 threads=1, extra=extra, device=device)


def summarize(note: str) -> str:
    rows = {}
    for name, config in CONFIGS.items():
        runs = [r for r in (published(name, s) for s in config.seeds) if r]
        if runs:
            rows[name] = {"options": options_of(name), "input_size": config.input_size or 112,
                          "pretraining": config.pretraining and asdict(config.pretraining),
                          **summarize_runs(runs)}
    payload = {"dataset": DATASET, "protocol": "loso", "budget": "synth budget (15 epochs, 112 px)",
               "pretraining_corpus": CORPUS, "width": int(WIDTH), "threads_per_run": 1, "note": note,
               "rows": rows}
    SUMMARY.mkdir(parents=True, exist_ok=True)
    (SUMMARY / "miacnet_v2_evidence.json").write_text(json.dumps(payload, indent=1))
    table = markdown_table(rows, "LOSO s, sum of folds (1 thread)") + f"\nWhile measuring: {note}.\n"
    (SUMMARY / "miacnet_v2_evidence.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="Single-threaded processes side by side.")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="Comma-separated configuration names.")
    parser.add_argument("--note", default="nothing else running", help="What else ran on the machine.")
    parser.add_argument("--device", default="cpu", help="Where runs and pre-trainings compute (cpu, cuda).")
    parser.add_argument("--summary-only", action="store_true")
    args = parser.parse_args()
    names = [n for n in args.configs.split(",") if n]
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; known: {list(CONFIGS)}")
    if not args.summary_only:
        queue = [(n, s) for n in names for s in CONFIGS[n].seeds if published(n, s) is None]
        with ThreadPoolExecutor(args.jobs) as pool:
            # A pre-training is its own task, submitted (in priority order) just before the first
            # run that waits for it: the queue is FIFO, so a waiting run's pre-training is always
            # running or done, and waiting cannot deadlock the pool.
            checkpoints: dict[tuple[Pretraining, int], Future] = {}
            futures = {}
            for name, seed in queue:
                recipe = CONFIGS[name].pretraining
                if recipe and (recipe, seed) not in checkpoints:
                    checkpoints[recipe, seed] = pool.submit(pretrain, recipe, seed, args.device)
                futures[f"{name} seed {seed}"] = pool.submit(
                    run, name, seed, checkpoints.get((recipe, seed)), args.device
                )
            for label, future in futures.items():
                print(f"{label}: {future.result()} s", flush=True)
    print(summarize(args.note))


if __name__ == "__main__":
    main()
