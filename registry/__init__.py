"""The registries of mer-zoo: backbones, models, datasets, class sets, protocols, checkpoints.

Each plugin package registers its entries at import; :func:`load_all` imports them all, and
every lookup calls it, so no entry depends on which module happened to be imported first.
"""

from __future__ import annotations

import importlib
import pkgutil

from registry._registry import Entry, Registry
from registry.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DuplicateNameError,
    UnknownNameError,
    ZooError,
)

BACKBONES: Registry = Registry("backbone")
MODELS: Registry = Registry("model")
DATASETS: Registry = Registry("dataset")
CLASS_SETS: Registry = Registry("class set")
PROTOCOLS: Registry = Registry("protocol")
PRETRAINERS: Registry = Registry("pretrainer")
CHECKPOINTS: Registry = Registry("checkpoint")
MACRO: Registry = Registry("macro")  # macro-expression corpora, for pre-training

KINDS: dict[str, Registry] = {
    "backbones": BACKBONES,
    "models": MODELS,
    "datasets": DATASETS,
    "classes": CLASS_SETS,
    "protocols": PROTOCOLS,
    "pretrainers": PRETRAINERS,
    "checkpoints": CHECKPOINTS,
    "macros": MACRO,
}

# Packages whose every submodule registers entries. A new model, dataset or protocol is a
# new file in one of these packages; nothing else has to change.
PLUGIN_PACKAGES = (
    "zoo.backbones",
    "zoo.models",
    "zoo.pretrain",
    "benchmarks.datasets",
    "benchmarks.protocols",
    "benchmarks.macro",
    "registry.checkpoints",
)

_loaded = False


def load_all() -> None:
    """Import every plugin module once, so every registry is complete."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
            if not module.name.startswith("_"):
                importlib.import_module(f"{package_name}.{module.name}")


__all__ = [
    "BACKBONES",
    "CHECKPOINTS",
    "CLASS_SETS",
    "DATASETS",
    "KINDS",
    "MACRO",
    "MODELS",
    "PRETRAINERS",
    "PROTOCOLS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DuplicateNameError",
    "Entry",
    "Registry",
    "UnknownNameError",
    "ZooError",
    "load_all",
]
