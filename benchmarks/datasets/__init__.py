"""Dataset readers, one file per dataset, each registered in ``registry.DATASETS``.

A dataset entry's object is a reader ``read(root: Path) -> DatasetIndex``; its metadata says
which class sets apply (``class_sets``: short name -> registered class-set name, the first
being the default) and whether the data is licence-restricted (``restricted``). Generated
datasets (``generated=True``) create their files on first use and need no root.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.records import ClassSet, DatasetIndex
from registry import CLASS_SETS, DATASETS
from registry.errors import ConfigError, DataError

DATA_ROOT_ENV = "ZOO_DATA_ROOT"


def locate(name: str, data_root: Path | str | None = None) -> Path:
    """Where dataset ``name`` lives: ``data_root`` if given, else ``$ZOO_DATA_ROOT/<name>``."""
    entry = DATASETS.get(name)
    if data_root is None and entry.meta.get("generated"):
        return entry.meta["default_root"]()
    if data_root is not None:
        root, looked = Path(data_root).expanduser(), f"--data-root {data_root}"
    elif os.environ.get(DATA_ROOT_ENV) and entry.meta.get("composite"):
        # a composite reads its parts from where they already are: $ZOO_DATA_ROOT/<part>
        root = Path(os.environ[DATA_ROOT_ENV]).expanduser()
        looked = f"${DATA_ROOT_ENV} = {root}"
    elif os.environ.get(DATA_ROOT_ENV):
        root = Path(os.environ[DATA_ROOT_ENV]).expanduser() / name
        looked = f"${DATA_ROOT_ENV}/{name} = {root}"
    else:
        raise DataError(
            f"dataset '{name}' has no location: it is licence-restricted and not shipped; "
            f"obtain it from its owners, then pass --data-root PATH or set {DATA_ROOT_ENV} "
            f"to the folder that holds '{name}/'"
        )
    if not root.is_dir():
        raise DataError(
            f"dataset '{name}' not found at {looked}: no such folder; point --data-root "
            f"(or ${DATA_ROOT_ENV}) at the copy you obtained from the dataset's owners"
        )
    return root


def load_dataset(name: str, data_root: Path | str | None = None, errata: bool = True) -> DatasetIndex:
    """Read dataset ``name`` from disk with its registered reader (``errata``: apply the
    registered corrections to the published sheet; generated datasets have none)."""
    entry = DATASETS.get(name)
    root = locate(name, data_root)
    return entry.obj(root, errata=errata) if "errata" in entry.meta else entry.obj(root)


def class_set_for(dataset: str, classes: str | None = None) -> ClassSet:
    """The class set ``classes`` (short name like "5" or a registered name) of ``dataset``."""
    available: dict[str, str] = dict(DATASETS.get(dataset).meta["class_sets"])
    if classes is None:
        return CLASS_SETS.get(next(iter(available.values()))).obj
    if classes in available:
        return CLASS_SETS.get(available[classes]).obj
    if classes in available.values():
        return CLASS_SETS.get(classes).obj
    raise ConfigError(
        f"--classes {classes} is not supported by dataset '{dataset}'; "
        f"choose one of: {', '.join(available)}"
    )
