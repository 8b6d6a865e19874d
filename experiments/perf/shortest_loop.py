"""The shortest correct loop of a small baseline's recipe: what a researcher writes by hand.

LOSO over the same prepared inputs ``zoo bench`` reads (its preprocessing cache, so neither
side pays for preprocessing), folds split over ``--workers`` processes of one thread each; per
fold a fresh network in the release's form (STSTNet's three streams; the others as
registered), its recipe's optimizer, learning rate, batch size and epochs, the training tensor
scaled once and cut unshuffled into batches (a batch of one sample skipped: batch norm cannot
train on it), no test pass until the end, and with ``selection="val"`` the best epoch on the
same validation subjects ``zoo bench`` holds out. glibc's allocator as it comes. Prints one
JSON line: wall seconds and the pooled UF1.

    python -m experiments.perf.shortest_loop ststnet --dataset megc2019-flow --data-root DIR [--epochs 60]

It is also the official script's recipe, run here: STSTNet's ``main.py`` trains its release
network on training clips ordered by class (``--order by-class``, its unshuffled loader).
``--seed N`` seeds each fold as ``zoo bench --seed N`` does (:func:`zoo.bench.fold_seed`), so
the two start every fold from the same initialisation and differ only in what the harness
does. ``--log FILE`` appends each finished subject's clips in the format of the release's
per-clip log (``<database> <subject>``, then ``<clip> <true> <predicted>``), which
``experiments.perf.ststnet_release --rerun SEED=FILE`` reads, and a run given the same log
skips the subjects already in it: it resumes.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import get_context
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.files import cache_home
from benchmarks.metrics import unweighted_f1
from benchmarks.preprocess import prepare
from benchmarks.protocols import make_folds
from benchmarks.records import subject_of_key
from experiments.perf.ststnet_release import clip_log_entry, read_clip_log
from registry import DATASETS
from zoo.bench import BenchSpec, fold_seed, plan_benchmark, select_samples
from zoo.engine.trainer import FoldData, InputNormalizer, epoch_order, split_validation
from zoo.models import create_model
from zoo.models.ststnet import OfficialSTSTNet

RELEASE_FORMS = {"ststnet": OfficialSTSTNet}  # models whose registered form is a faster equivalent


def network(model: str, num_classes: int, options: dict) -> torch.nn.Module:
    return RELEASE_FORMS[model](num_classes) if model in RELEASE_FORMS else create_model(model, num_classes, **options)


_data: FoldData | None = None  # a worker's copy of the inputs, handed over once


def start_worker(data: FoldData) -> None:
    global _data
    _data = data
    torch.set_num_threads(1)


def train_fold(args: tuple) -> list[dict]:
    """One fold: its test clips as result-file samples (``clip``, ``label``, ``prediction``)."""
    model, options, num_classes, hyper, seed, order, train_rows, test_rows, test_keys = args
    torch.manual_seed(seed)
    if order == "by-class":
        train_rows = [train_rows[i] for i in epoch_order(_data.labels[train_rows], order, torch.Generator())]
    train, test = _data.subset(train_rows), _data.subset(test_rows)
    validation = None
    if hyper["selection"] == "val":
        fit, held = split_validation(train, 0.2, seed)
        train, validation = train.subset(fit), train.subset(held)
    net = network(model, num_classes, options)
    scale = InputNormalizer(train, net.inputs.scaling)
    x = scale({k: train.inputs[k] for k in net.inputs.keys}, torch.device("cpu"))
    make = torch.optim.SGD if hyper["optimizer"] == "sgd" else torch.optim.AdamW
    extra = {"momentum": 0.9} if hyper["optimizer"] == "sgd" else {}
    optimizer = make(net.parameters(), lr=hyper["lr"], weight_decay=hyper["weight_decay"], **extra)
    best, best_state = -1.0, None
    for _ in range(hyper["epochs"]):
        net.train()
        for start in range(0, len(train), hyper["batch_size"]):
            rows = slice(start, start + hyper["batch_size"])
            if len(train.labels[rows]) < 2:
                continue
            loss = F.cross_entropy(net(**{k: v[rows] for k, v in x.items()}), train.labels[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if validation is not None:
            score = unweighted_f1(validation.labels.tolist(), predict(net, scale, validation), num_classes)
            if score > best:
                best, best_state = score, {k: v.clone() for k, v in net.state_dict().items()}
    if best_state is not None:
        net.load_state_dict(best_state)
    return [{"clip": key, "label": label, "prediction": prediction}
            for key, label, prediction in zip(test_keys, test.labels.tolist(), predict(net, scale, test))]


def predict(net: torch.nn.Module, scale: InputNormalizer, data: FoldData) -> list[int]:
    net.eval()
    with torch.no_grad():
        return net(**scale({k: data.inputs[k] for k in net.inputs.keys}, torch.device("cpu"))).argmax(1).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--dataset", default="synth")
    parser.add_argument("--data-root")
    parser.add_argument("--epochs", type=int, help="default: the recipe's (as zoo bench plans it)")
    parser.add_argument("--opt", action="append", default=[], help="model option KEY=VALUE")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="each fold's torch seed as zoo bench --seed SEED gives it")
    parser.add_argument("--order", choices=("as-read", "by-class"), default="as-read",
                        help="by-class: the training clips sorted by class, as STSTNet's main.py reads them")
    parser.add_argument("--log", type=Path, help="append each subject in STSTNet's log format; resume from it")
    args = parser.parse_args()
    started = time.perf_counter()
    overrides = {"epochs": args.epochs} if args.epochs else {}
    options = dict(o.split("=", 1) for o in args.opt)
    plan = plan_benchmark(BenchSpec(model=args.model, dataset=args.dataset, data_root=args.data_root,
                                    device="cpu", options=options, overrides=overrides))
    index = DATASETS.get(args.dataset).obj(plan.root)
    keys, labels, subjects = select_samples(index, plan.class_set)
    data = FoldData(prepare(index, plan.preprocess, cache_home()).rows(keys), torch.tensor(labels), tuple(subjects))
    folds = make_folds("loso", args.dataset, keys, subjects, 0)
    samples = read_clip_log(args.log) if args.log and args.log.exists() else []
    done = {subject_of_key(sample["clip"]) for sample in samples}
    jobs = [(args.model, plan.options, plan.class_set.num_classes, plan.hyperparameters, fold_seed(args.seed, number),
             args.order, list(fold.train), list(fold.test), [keys[i] for i in fold.test])
            for number, fold in enumerate(folds, start=1) if subjects[fold.test[0]] not in done]
    with get_context("spawn").Pool(args.workers, initializer=start_worker, initargs=(data,)) as pool:
        for fold_samples in pool.imap_unordered(train_fold, jobs):
            samples += fold_samples
            if args.log:
                with args.log.open("a") as log:
                    log.write(clip_log_entry(fold_samples))
    truth, predicted = [s["label"] for s in samples], [s["prediction"] for s in samples]
    print(json.dumps({"model": args.model, "dataset": args.dataset, "epochs": plan.hyperparameters["epochs"],
                      "folds": len(folds), "resumed_folds": len(done), "seed": args.seed, "order": args.order,
                      "workers": args.workers, "wall_s": round(time.perf_counter() - started, 1),
                      "uf1": unweighted_f1(truth, predicted, plan.class_set.num_classes)}))


if __name__ == "__main__":
    main()
