"""``zoo explain``: MIACNet's position/action heat maps over the face of one clip of a run.

The heat maps come from the model of the fold whose test set holds CLIP: its saved weights
when the run kept them (``zoo bench --save-weights``), else that fold trained again exactly as
the run recorded it (same options, hyper-parameters, fold seed and pre-training checkpoint).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import typer

from benchmarks.datasets import class_set_for, locate
from benchmarks.files import cache_home, local_path
from benchmarks.preprocess import PreprocessConfig, prepare
from benchmarks.protocols import Fold, make_folds
from zoo.bench import BenchPlan, BenchSpec, fold_seed, plan_benchmark, select_samples
from leaderboard.store import read_result, weights_dir
from registry import DATASETS
from registry.errors import ConfigError
from zoo.cli import app, console
from zoo.engine.saved import load_fold_model, rebuild
from zoo.engine.trainer import FoldData, InputNormalizer, fit_predict
from zoo.models import create_model
from zoo.pretrain.checkpoints import load_pretrained


def overlay(frame: np.ndarray, heat: torch.Tensor) -> np.ndarray:
    """An RGB uint8 frame (H, W, 3) blended with a [0, 1] heat map as a JET colour map (BGR out)."""
    size = frame.shape[:2]
    heat = F.interpolate(heat[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    colour = cv2.applyColorMap((heat.numpy() * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(np.ascontiguousarray(frame[..., ::-1]), 0.5, colour, 0.5, 0)


def saved_fold(path: Path, run_id: str) -> tuple[torch.nn.Module, InputNormalizer]:
    if not path.is_file():
        raise ConfigError(f"{path.parent} lacks fold {path.stem}; delete that folder to train the fold again")
    net, normalize, meta = load_fold_model(path)
    if meta["run_id"] != run_id:
        raise ConfigError(f"{path} holds weights of run {meta['run_id']}, not of run {run_id}")
    return net, normalize


def retrained_fold(
    plan: BenchPlan, pretraining: dict, data: FoldData, fold: Fold, number: int, run_id: str
) -> tuple[torch.nn.Module, InputNormalizer]:
    def build() -> torch.nn.Module:
        net = create_model(plan.spec.model, plan.class_set.num_classes, **plan.options)
        if pretraining:
            load_pretrained(net, local_path(pretraining["path"]), plan.spec.allow_partial)
        return net

    console.print(
        f"training fold {fold.name} again as run {run_id} did (--save-weights would have kept it) ..."
    )
    train = data.subset(list(fold.train))
    outcome = fit_predict(
        build,
        train,
        data.subset(list(fold.test)),
        replace(plan.train, seed=fold_seed(plan.spec.seed, number)),
        plan.class_set.num_classes,
    )
    net = rebuild(plan.spec.model, plan.class_set.num_classes, plan.options)
    net.load_state_dict(outcome.weights)
    return net.eval(), InputNormalizer(train)


@app.command()
def explain(
    model: str = typer.Argument(..., help="Model of the run (a MIACNet entry)."),
    run: Path = typer.Argument(..., help="The run's result file (JSON)."),
    clip: str = typer.Argument(..., help="Clip key, subject/clip, e.g. sub01/EP02_01f."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Folder of the run's dataset."),
    out: Path = typer.Option(Path("heatmaps"), "--out", help="Folder for the PNG files."),
) -> None:
    """Write MODEL's position and action attention heat maps for CLIP of RUN as PNGs."""
    result = read_result(run)
    if result["model"]["name"] != model:
        raise ConfigError(f"{run} is a run of {result['model']['name']}, not {model}")
    pretraining = result.get("pretraining") or {}
    spec = BenchSpec(
        model=model,
        dataset=result["dataset"]["name"],
        classes=result["dataset"]["class_set"],
        protocol=result["protocol"]["name"],
        seed=result["seed"],
        device="cpu",
        data_root=str(data_root) if data_root else None,
        options=result["model"]["options"],
        overrides=dict(result["hyperparameters"]),
        pretrained=pretraining.get("path"),
        allow_partial=bool(
            pretraining.get("load", {}).get("unexpected") or pretraining.get("load", {}).get("mismatched")
        ),
    )
    class_set = class_set_for(spec.dataset, spec.classes)
    if not hasattr(rebuild(model, class_set.num_classes, spec.options), "attention_maps"):
        raise ConfigError(f"model {model} has no attention maps to explain (MIACNet entries have)")
    saved = weights_dir(run)
    plan = None if saved.is_dir() else plan_benchmark(spec)  # only retraining needs the plan
    index = DATASETS.get(spec.dataset).obj(locate(spec.dataset, spec.data_root))
    keys, labels, subjects = select_samples(index, class_set)
    if clip not in keys:
        raise ConfigError(
            f"clip '{clip}' is not in {spec.dataset} ({class_set.name}); e.g. {', '.join(keys[:3])}"
        )
    preprocess = PreprocessConfig(**result["preprocess"])
    data = FoldData(
        prepare(index, preprocess, cache_home()).rows(keys), torch.tensor(labels), tuple(subjects)
    )
    folds = make_folds(spec.protocol, spec.dataset, keys, subjects, spec.seed)
    row = keys.index(clip)
    number, fold = next((n, f) for n, f in enumerate(folds, start=1) if row in f.test)
    if plan is None:
        net, normalize = saved_fold(saved / f"{fold.name}.safetensors", result["run_id"])
        console.print(f"using the saved weights of fold {fold.name} ({saved})")
    else:
        net, normalize = retrained_fold(plan, pretraining, data, fold, number, result["run_id"])
    sample = {k: data.inputs[k][row : row + 1] for k in net.inputs.keys}
    maps = net.attention_maps(**normalize(sample, torch.device("cpu")))
    onset = data.inputs["onset"][row].permute(1, 2, 0).numpy()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['run_id']}-{clip.replace('/', '_')}"
    for name, heat in maps.items():
        path = out / f"{stem}-{name}.png"
        cv2.imwrite(str(path), overlay(onset, heat[0]))
        console.print(f"{name} heat map written to {path}")
