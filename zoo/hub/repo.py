"""What a mer-zoo repo on the Hub holds, how it is made from local files, and how a download
of one is checked.

Layout of a pushed repo::

    config.json                  rebuilds the model through the registry: model, options,
                                 classes, inputs, preprocessing; and the sha256 of every
                                 other file of the repo
    README.md                    model card (:mod:`zoo.hub.card`)
    model.safetensors            kind "pretraining": a pre-training checkpoint (``zoo pretrain``);
                                 kind "model": a model trained on every subject (``zoo train``)
    result.json                  kind "run": the run's result file
    weights/<fold>.safetensors   kind "run": each fold's final weights (``--save-weights``)

A pull reads ``config.json`` first, so a repo that is not mer-zoo's costs one small file,
then fetches exactly the files it lists, all at the commit the config came from.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Callable

from huggingface_hub import hf_hub_download
from huggingface_hub.errors import RemoteEntryNotFoundError

from leaderboard.store import read_result, weights_dir
from registry import DATASETS, MACRO, MODELS
from registry.errors import CheckpointError, ConfigError
from zoo.engine import trained
from zoo.engine.saved import fold_meta, load_fold_model, rebuild
from zoo.hub import card
from zoo.hub.publication import Publication
from zoo.io.hub_client import (
    HubError,
    Reference,
    cache_unchanged_on_failure,
    download,
    hub_errors,
    parse_reference,
    verified,
)
from registry.options import model_options
from zoo.io.weights import checkpoint_meta, load_weights, sha256_of

CONFIG = "config.json"
CARD = "README.md"
SCHEMA, SCHEMA_VERSION, LIBRARY = trained.SCHEMA, trained.SCHEMA_VERSION, trained.LIBRARY  # one for both
KINDS = ("run", "pretraining", "model")
PRETRAINED_FILE = trained.WEIGHTS
RESULT_FILE = "result.json"
SHA256 = re.compile(r"[0-9a-f]{64}")


class NotACheckpoint(HubError):
    """A repo (or local path) that is not a mer-zoo checkpoint."""


def _mer_zoo_version() -> str | None:
    try:
        return metadata.version("mer-zoo")
    except metadata.PackageNotFoundError:
        return None


def local_publication(path: Path) -> Publication:
    """A finished run (its result file, with fold weights beside it) or a pre-training output
    (its folder or checkpoint file), checked to rebuild and load before anything is sent."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".json":
        return _run_publication(path)
    if (path / trained.CONFIG).is_file():
        return _model_publication(path)
    candidates = sorted(path.glob("*.safetensors")) if path.is_dir() else [path] if path.is_file() else []
    made = [p for p in candidates if p.suffix == ".safetensors" and checkpoint_meta(p).get("pretrainer")]
    if len(made) == 1:
        return _pretraining_publication(made[0])
    raise NotACheckpoint(
        f"{path}: neither a result file of `zoo bench --save-weights`, a model folder of `zoo train`, nor a "
        "pre-training output of `zoo pretrain` (a folder or file holding one pre-training checkpoint)"
    )


def _run_publication(path: Path) -> Publication:
    result = read_result(path)
    scored = [result["metrics"], *(result.get("part_metrics") or {}).values()]
    if not all(isinstance(m.get(k), (int, float)) for m in scored for k in ("uf1", "uar", "accuracy")):
        raise ConfigError(f"{path}: malformed metrics; run it again")
    folder = weights_dir(path)
    files = {RESULT_FILE: path}
    folds = {}
    for fold in result["folds"]:
        weights = folder / f"{fold['name']}.safetensors"
        if not weights.is_file():
            raise ConfigError(
                f"{path}: no saved weights of fold {fold['name']} in {folder}; run it again with "
                "`zoo bench ... --save-weights`"
            )
        if fold_meta(weights)["run_id"] != result["run_id"]:
            raise ConfigError(f"{weights} holds weights of another run than {path}")
        net, _, _ = load_fold_model(weights)  # rebuilds and loads strictly: a push that pulls back
        name = f"weights/{fold['name']}.safetensors"
        files[name] = weights
        folds[fold["name"]] = {"file": name, "test_subjects": fold["test_subjects"]}
    config = {
        "kind": "run",
        "model": result["model"]["name"],
        "options": result["model"]["options"],
        "num_classes": len(result["dataset"]["classes"]),
        "classes": result["dataset"]["classes"],
        "class_set": result["dataset"]["class_set"],
        "dataset": result["dataset"]["name"],
        "protocol": result["protocol"]["name"],
        "inputs": asdict(net.inputs),
        "preprocessing": result["preprocess"],
        "folds": folds,
        "run_id": result["run_id"],
    }
    return Publication("run", config, files, result=result)


def _model_publication(folder: Path) -> Publication:
    """A model folder of ``zoo train``, checked to rebuild and load before anything is sent."""
    _, _, config = trained.load_trained(folder)
    kept = {k: v for k, v in config.items() if k not in ("library_name", "schema", "schema_version")}
    return Publication("model", kept, {trained.WEIGHTS: folder / trained.WEIGHTS})


def _pretraining_publication(path: Path) -> Publication:
    meta = checkpoint_meta(path)
    net = rebuild(meta["model"], 2, meta["model_options"])  # the head is not pre-trained
    load_weights(net, path, covers=tuple(meta["covers"]))
    config = {
        "kind": "pretraining",
        "model": meta["model"],
        "options": meta["model_options"],
        "num_classes": None,
        "classes": None,
        "inputs": asdict(net.inputs),
        "preprocessing": {"size": meta.get("config", {}).get("input_size")},
        "pretraining": {k: meta.get(k) for k in ("pretrainer", "corpus", "epochs_done", "covers", "config")},
    }
    return Publication("pretraining", config, {PRETRAINED_FILE: path}, checkpoint=meta)


def generated_data(publication: Publication) -> bool:
    """Whether the weights were trained only on data mer-zoo generates (its own licence applies);
    a dataset this mer-zoo does not know counts as not generated."""
    registry, name = (
        (MACRO, publication.config["pretraining"]["corpus"])
        if publication.kind == "pretraining"
        else (DATASETS, publication.config["dataset"])
    )
    return name in registry and bool(registry.get(name).meta.get("generated"))


def repo_files(publication: Publication, repo_id: str, license: str | None = None) -> dict[str, bytes | Path]:
    """Every file of the repo: the publication's, the model card, and ``config.json`` with
    the digest of each of them."""
    license = license or ("mit" if generated_data(publication) else "other")
    readme = card.render(publication, repo_id, license).encode()
    digests = {
        name: {"sha256": sha256_of(path), "size": path.stat().st_size}
        for name, path in publication.files.items()
    }
    digests[CARD] = {"sha256": hashlib.sha256(readme).hexdigest(), "size": len(readme)}
    config = {
        "library_name": LIBRARY,
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        **publication.config,
        "license": license,
        "mer_zoo_version": _mer_zoo_version(),
        "files": digests,
    }
    return {CONFIG: json.dumps(config, indent=1, sort_keys=True).encode(), CARD: readme, **publication.files}


@dataclass(frozen=True)
class Pulled:
    """A verified download: the commit it came from, its config and its local files."""

    reference: Reference
    commit: str
    folder: Path  # the commit's snapshot folder in the Hugging Face cache
    config: dict
    files: dict[str, Path]


def read_config(path: Path, what: str) -> dict:
    """``config.json`` of a download, checked: ours, a known schema, a model this mer-zoo has."""
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        config = None
    if (
        not isinstance(config, dict)
        or config.get("library_name") != LIBRARY
        or config.get("schema") != SCHEMA
    ):
        raise NotACheckpoint(f"{what} is not a mer-zoo checkpoint: its {CONFIG} is not mer-zoo's")
    if config.get("schema_version") != SCHEMA_VERSION:
        raise NotACheckpoint(
            f"{what}: checkpoint schema version {config.get('schema_version')} is not supported "
            f"(this mer-zoo reads version {SCHEMA_VERSION}); upgrade mer-zoo"
        )
    if config.get("kind") not in KINDS or not isinstance(config.get("files"), dict):
        raise NotACheckpoint(f"{what}: malformed {CONFIG} (kind and files)")
    if config.get("model") not in MODELS:
        raise NotACheckpoint(
            f"{what} holds model '{config.get('model')}', which this mer-zoo does not have "
            "(zoo list models); upgrade mer-zoo"
        )
    model_options(config["model"], config.get("options") or {})  # an unknown option is an error
    for name, entry in config["files"].items():
        parts = PurePosixPath(name).parts
        if (
            not parts
            or name.startswith("/")
            or ".." in parts
            or not SHA256.fullmatch(str(entry.get("sha256")))
        ):
            raise NotACheckpoint(f"{what}: malformed {CONFIG} entry for file '{name}'")
    return config


def pull(reference: Reference) -> Pulled:
    """Download ``config.json`` and every file it lists into the Hugging Face cache, all from
    one commit, each checked against its sha256; on failure the cache is left as it was."""
    what = str(reference)
    with cache_unchanged_on_failure(reference.repo_id):
        with hub_errors(what):
            try:
                config_path = Path(hf_hub_download(reference.repo_id, CONFIG, revision=reference.revision))
            except RemoteEntryNotFoundError:
                raise NotACheckpoint(f"{what} is not a mer-zoo checkpoint: it has no {CONFIG}") from None
        commit = config_path.parent.name  # the cache's layout: snapshots/<commit>/<file>
        config = read_config(config_path, f"{reference.repo_id}@{commit}")
        files = {}
        for name, entry in config["files"].items():
            path = download(reference.repo_id, name, commit)
            files[name] = verified(path, entry["sha256"], f"{reference.repo_id}@{commit}/{name}")
    return Pulled(reference, commit, config_path.parent, config, files)


def fetch(text: str, kind: str, refusal: str, message: Callable[[str], None] = print) -> Pulled:
    """A pushed repo of ``kind``, ``hf:ORG/NAME[@REVISION]``, checked; another kind is refused
    with ``refusal`` (what it holds instead is said before it)."""
    pulled = pull(parse_reference(text))
    if pulled.config["kind"] != kind:
        raise CheckpointError(f"{text} holds a finished {pulled.config['kind']}, {refusal} (pushed with `zoo push`)")
    message(f"{text}: commit {pulled.commit}, checked, in {pulled.folder}")
    return pulled


def fetch_model(text: str, message: Callable[[str], None] = print) -> Path:
    """The folder of a pushed ``zoo train`` model (its snapshot in the Hugging Face cache)."""
    refusal = "not a model trained by zoo train; zoo predict takes the output of `zoo train`"
    return fetch(text, "model", refusal, message).folder


def fetch_pretraining(text: str, message: Callable[[str], None] = print) -> Path:
    """The checkpoint file of a pushed pre-training."""
    refusal = "not a pre-training checkpoint; --pretrained takes the output of `zoo pretrain`"
    return fetch(text, "pretraining", refusal, message).files[PRETRAINED_FILE]
