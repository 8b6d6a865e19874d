"""Fine-tuning from a pre-trained checkpoint: resolve ``--pretrained PATH|NAME|hf:ORG/NAME``
(a ``PATH`` is a checkpoint file or a model folder of ``zoo train``),
fetch a published one from the Hub (checked against its sha256) or produce a registered
recipe checkpoint on first use (cached under ``$ZOO_CACHE``), load it into a fresh model, and
describe it for the result file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import torch.nn as nn

from benchmarks.files import cache_home, local_path, portable_path
from benchmarks.macro import overlapping_subjects
from registry import CHECKPOINTS, MODELS, PRETRAINERS
from registry.errors import CheckpointError, ConfigError
from zoo.engine.trained import WEIGHTS as TRAINED_WEIGHTS, read_trained_config
from zoo.io.hub_client import fetch_verified, is_reference, parse_reference
from zoo.hub.repo import fetch_pretraining
from registry.options import model_options
from zoo.io.weights import LoadReport, checkpoint_meta, load_weights, sha256_of


def pretrained_for(
    model: str, options: dict[str, Any], requested: str | None
) -> tuple[str | None, dict[str, Any]]:
    """The checkpoint a run fine-tunes from and the model options that implies.

    ``requested`` (``--pretrained``) wins; otherwise a model entry may name a default
    checkpoint (``meta["pretrained"]``, e.g. ``miacnet-ma2mi``). A model's
    ``meta["pretrained_options"]`` (MIACNet: ``init=ma2mi``) are set when a checkpoint is
    used, so the recorded options say how the model was initialised; an option the user set
    to something else is a conflict.
    """
    entry = MODELS.get(model)
    implied = dict(entry.meta.get("pretrained_options", {}))
    name = requested or entry.meta.get("pretrained")
    if name is None:
        wanting = [k for k, v in implied.items() if options.get(k) == v]
        if wanting:
            raise ConfigError(
                f"model {model} with {', '.join(f'{k}={implied[k]}' for k in wanting)} "
                "needs --pretrained PATH|NAME (zoo list checkpoints)"
            )
        return None, options
    if is_reference(name):
        parse_reference(name)  # a malformed reference fails here, before any work
    elif Path(name).expanduser().is_dir():
        read_trained_config(Path(name).expanduser())  # a folder must be a model of zoo train
    elif not Path(name).expanduser().is_file() and name not in CHECKPOINTS:
        raise CheckpointError(
            f"--pretrained {name}: no such file or model folder, no registered checkpoint of that name "
            "(zoo list checkpoints) and not a Hub reference hf:ORG/NAME[@REVISION]"
        )
    base = model_options(model)
    conflicts = [f"{k}={options[k]}" for k, v in implied.items() if options.get(k) not in (v, base.get(k))]
    if conflicts:
        raise ConfigError(f"--pretrained {name} conflicts with option {', '.join(conflicts)}")
    return name, {**options, **implied}


def checkpoint_file(
    name: str, options: dict[str, Any], message: Callable[[str], None] = print, device: str = "auto"
) -> Path:
    """The file behind ``name``: a path, a Hub reference or a published checkpoint (fetched
    into the Hugging Face cache and checked), or a recipe checkpoint (produced once, on
    ``device``, the run's own)."""
    if is_reference(name):
        return fetch_pretraining(name, message)
    path = local_path(name)
    if path.is_file():
        return path
    if path.is_dir():  # a model of zoo train: its weights, which say what they cover
        return path / TRAINED_WEIGHTS
    row = CHECKPOINTS.get(name).obj
    if "repo" in row:
        return fetch_verified(row["repo"], row["revision"], row["file"], row["sha256"])
    pretrainer = PRETRAINERS.get(row["pretrainer"])
    # Keyed on the options that shape the pre-trained weights only, so a fine-tuning option
    # (fusion, dropout) or a change of its default does not make a second, identical checkpoint.
    shaping = pretrainer.meta.get("trunk_options")
    keyed = {k: v for k, v in options.items() if shaping is None or k in shaping}
    blob = json.dumps({"name": name, "row": row, "options": keyed}, sort_keys=True, default=str)
    out = cache_home() / "pretrained" / f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:10]}"
    pointer = out / "finished"  # names the final file once the pre-training has completed
    if pointer.is_file():
        return out / pointer.read_text().strip()
    message(
        f"pre-training {name} ({row['pretrainer']} on {row['corpus']}) into {out}; done once, then cached"
    )
    final = pretrainer.obj(row["corpus"], out=out, model_options=options, config=row.get("config"), device=device)
    pointer.write_text(final.name)
    return final


def load_pretrained(model: nn.Module, path: Path, allow_partial: bool = False) -> LoadReport:
    """Load a pre-training checkpoint into a fresh model; the checkpoint says which of the
    model's parts it covers (``covers``), so a new classifier head is not a missing key."""
    covers = checkpoint_meta(path).get("covers")
    return load_weights(model, path, covers=tuple(covers) if covers else None, allow_partial=allow_partial)


def hub_source(name: str, path: Path) -> dict[str, str] | None:
    """Where on the Hub a fetched checkpoint came from: repo, commit and file (``None``: local).
    A Hub reference's file sits in the cache's ``snapshots/<commit>/`` folder."""
    if is_reference(name):
        return {"repo": parse_reference(name).repo_id, "revision": path.parent.name, "file": path.name}
    row = CHECKPOINTS.get(name).obj if name in CHECKPOINTS else {}
    if "repo" in row:
        return {"repo": row["repo"], "revision": row["revision"], "file": row["file"]}
    return None


def describe_pretraining(
    name: str, path: Path, report: LoadReport, dataset: str, eval_subjects: list[str]
) -> dict[str, Any]:
    """The result file's ``pretraining`` record: which checkpoint, made how, and overlap."""
    meta = checkpoint_meta(path)
    return {
        "name": portable_path(path) if local_path(name) == path else name,  # a path, as the user gave it
        "path": portable_path(path),
        "source": hub_source(name, path),
        "sha256": sha256_of(path),
        "pretrainer": meta.get("pretrainer"),
        "corpus": meta.get("corpus"),
        "epochs": meta.get("epochs_done"),
        "config": meta.get("config"),
        "model_options": meta.get("model_options"),
        "excluded_subjects": meta.get("excluded_subjects", []),
        "subjects_overlap_eval": overlapping_subjects(
            meta.get("subjects", []), meta.get("same_subjects_as", []), dataset, eval_subjects
        ),
        "load": report.to_dict(),
    }
