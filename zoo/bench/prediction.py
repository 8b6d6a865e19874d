"""Predictions of a trained model on new clips: ``zoo predict`` and ``zoo.load`` / ``zoo.predict``.

A model is a folder of ``zoo train`` or its Hub repo (``hf:ORG/NAME[@REVISION]``, downloaded
into the Hugging Face cache and checked against its digests). Clips are given by their frames
(onset and apex, an optional offset, or a folder holding ``onset.*`` and ``apex.*``) or as a
whole dataset; their inputs are computed by :class:`zoo.engine.trained.Preprocess`, the
preprocessing code of ``zoo bench``, with the trained model's own settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch.nn as nn

from registry.errors import ConfigError, DataError
from zoo.engine.trained import Preprocess, load_trained, probabilities
from zoo.hub.repo import fetch_model
from zoo.io.hub_client import is_reference

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def load(source: str | Path, message: Callable[[str], None] = lambda text: None) -> tuple[nn.Module, Preprocess]:
    """The model (eval mode) and its :class:`Preprocess` from a ``zoo train`` folder or ``hf:ORG/NAME[@REV]``."""
    folder = fetch_model(str(source), message) if is_reference(str(source)) else Path(source).expanduser()
    model, preprocess, _ = load_trained(folder)
    return model, preprocess


def clip_frames(folder: Path) -> dict[str, Path]:
    """``onset``, ``apex`` and (if there is one) ``offset`` frames of a clip folder, by file name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"clip folder {folder} does not exist; give a folder holding onset.* and apex.* frames")
    found = {}
    for name in ("onset", "apex", "offset"):
        matches = sorted(p for p in folder.glob(f"{name}.*") if p.suffix.lower() in FRAME_SUFFIXES)
        if len(matches) > 1:
            raise DataError(f"clip folder {folder} has {len(matches)} {name} frames ({', '.join(m.name for m in matches)}); "
                            "keep one")
        if matches:
            found[name] = matches[0]
    missing = [n for n in ("onset", "apex") if n not in found]
    if missing:
        raise DataError(f"clip folder {folder} has no {' and no '.join(missing)} frame; name the clip's frames "
                        f"onset.jpg and apex.jpg (or .png), or give --onset and --apex")
    return found


def predict(model: nn.Module, preprocess: Preprocess, *, onset: str | Path | None = None,
            apex: str | Path | None = None, offset: str | Path | None = None, clip: str | Path | None = None,
            dataset: str | None = None, data_root: str | Path | None = None) -> list[dict]:
    """Per clip: ``{"clip", "subject", "predicted", "probabilities": {class: p}}``, for one clip
    (``onset`` and ``apex`` frames, or a ``clip`` folder) or every clip of a ``dataset``."""
    names = preprocess.classes
    given = [clip is not None, onset is not None or apex is not None, dataset is not None]
    if sum(given) != 1:
        raise ConfigError("give one clip (--clip DIR, or --onset IMG --apex IMG) or one dataset (--dataset D)")
    if dataset is not None:
        clips, inputs = preprocess.dataset(dataset, Path(data_root) if data_root else None)
        rows = [(c.key, c.subject) for c in clips]
    else:
        frames = clip_frames(Path(clip)) if clip is not None else {"onset": onset, "apex": apex, "offset": offset}
        if frames.get("onset") is None or frames.get("apex") is None:
            raise ConfigError("a clip needs both --onset IMG and --apex IMG")
        inputs = preprocess.frames(frames["onset"], frames["apex"], frames.get("offset"))
        rows = [(str(Path(clip) if clip is not None else Path(frames["apex"]).parent), None)]
    probs = probabilities(model, preprocess, inputs)
    return [
        {"clip": key, "subject": subject, "predicted": names[int(p.argmax())],
         "probabilities": {name: round(float(value), 6) for name, value in zip(names, p)}}
        for (key, subject), p in zip(rows, probs)
    ]
