"""Plain records passed between the stages: a reader returns them, everything else reads them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from registry.errors import DataError


@dataclass(frozen=True)
class Clip:
    """One annotated micro-expression clip as the dataset's sheet describes it.

    ``frames`` maps frame numbers (as in the sheet) to image files. ``emotion`` is the raw
    label string from the sheet; a :class:`ClassSet` turns it into a class index.
    """

    dataset: str
    subject: str
    clip: str
    emotion: str
    onset: int
    apex: int
    offset: int
    frames: Mapping[int, Path]
    action_units: str = ""
    apex_imputed: bool = False
    source_row: str = ""

    @property
    def key(self) -> str:
        """Unique within a dataset: subject and clip name (clip names repeat across subjects)."""
        return f"{self.subject}/{self.clip}"

    def frame(self, number: int) -> Path:
        try:
            return self.frames[number]
        except KeyError:
            raise DataError(
                f"{self.source_row or self.key}: frame {number} not found in "
                f"{_folder_of(self.frames)}; check the sheet's frame numbers against the files"
            ) from None


def _folder_of(frames: Mapping[int, Path]) -> str:
    first = next(iter(frames.values()), None)
    return str(first.parent) if first is not None else "(no frames)"


# Tensors the preprocessing cache can prepare for a clip, and their channel counts.
PREPARED_CHANNELS = {"onset": 3, "apex": 3, "offset": 3, "flow": 2, "magnitude": 1, "strain": 1, "diff": 1}
SCALINGS = ("standard", "minmax")


@dataclass(frozen=True)
class InputSpec:
    """What a model reads from the preprocessing cache; the runner asks for exactly this.

    ``keys``: prepared tensors passed to ``forward`` as keyword arguments (see
    ``PREPARED_CHANNELS``). ``size``: a fixed input side the model was designed for
    (STSTNet: 28 px); ``None`` follows the run's ``input_size``. ``flow``: the optical-flow
    algorithm of the model's published inputs (``tvl1``, ``farneback``); ``None``: the
    preprocessing default. ``scaling``: ``standard`` (frames by ImageNet mean/std, flow
    divided by its RMS over the training subjects) or ``minmax`` (each channel of each clip
    scaled to [0, 1], as STSTNet's released inputs are).
    """

    keys: tuple[str, ...]
    size: int | None = None
    flow: str | None = None
    scaling: str = "standard"

    def __post_init__(self) -> None:
        unknown = [k for k in self.keys if k not in PREPARED_CHANNELS]
        if unknown or not self.keys:
            raise ValueError(f"input keys {unknown or '()'} are not among {', '.join(PREPARED_CHANNELS)}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"input scaling {self.scaling!r} is not one of {', '.join(SCALINGS)}")

    def describe(self) -> dict:
        return {"keys": list(self.keys), "size": self.size, "flow": self.flow, "scaling": self.scaling}


@dataclass(frozen=True)
class ProvidedInputs:
    """What a dataset can give the preprocessing cache (its registry meta ``provides``).

    A frame dataset (the default, :data:`FRAME_INPUTS`) gives every tensor of
    ``PREPARED_CHANNELS`` at any size, its flow computed by the method the model asks for.
    A dataset released as precomputed inputs (STSTNet's MEGC 2019 flow images) gives only
    ``keys``, only at side ``size``, its flow computed with ``flow``, already scaled as
    ``scaling`` says (``None``: raw values). Its ``prepare_clip(clip, config)`` returns
    those tensors of one clip (channels first, like the frame pipeline's) and replaces the
    frame pipeline in the cache.
    """

    keys: tuple[str, ...] = tuple(PREPARED_CHANNELS)
    size: int | None = None
    flow: str | None = None
    scaling: str | None = None
    prepare_clip: Callable | None = None

    def describe(self) -> dict:
        hook = self.prepare_clip
        return {"keys": list(self.keys), "size": self.size, "flow": self.flow, "scaling": self.scaling,
                "source": "frames" if hook is None else f"{hook.__module__}.{hook.__qualname__}"}


FRAME_INPUTS = ProvidedInputs()


@dataclass(frozen=True)
class Excluded:
    """A sheet row that is not part of the index, and why."""

    row: str
    reason: str


@dataclass(frozen=True)
class DatasetIndex:
    """What a reader found: usable clips, rows left out with reasons, and warnings."""

    name: str
    root: Path
    clips: tuple[Clip, ...]
    excluded: tuple[Excluded, ...] = ()
    warnings: tuple[str, ...] = ()
    # generated data: what made it (generator version and parameters, as its folder's marker
    # records them); empty for recorded datasets
    generator: str = ""
    # derived inputs a paper released (a few hundred small files): fingerprinted by content, so
    # every copy of the release is one dataset, and a user's run has the published run's id
    released: bool = False

    @property
    def subjects(self) -> list[str]:
        return sorted({c.subject for c in self.clips}, key=natural_key)

    def fingerprint(self) -> str:
        """Hash of the annotations and of what the frames are.

        Recorded data: the size and mtime of every frame used, cheap enough for every run and
        changed whenever the sheet or a used frame is. Generated data: the generator's identity
        instead, so its output is one dataset wherever and whenever it was written (a copy
        written again has new mtimes, and on another CPU a few pixels may round differently;
        the generator's tests bound that). Released inputs: the contents of every file used.
        """
        digest = hashlib.sha256()
        if self.generator:
            digest.update(f"generator|{self.generator}|".encode())
        for clip in sorted(self.clips, key=lambda c: c.key):
            digest.update(f"{clip.key}|{clip.emotion}|{clip.onset}|{clip.apex}|{clip.offset}|".encode())
            if self.generator:
                continue
            for number in sorted({clip.onset, clip.apex, clip.offset}):
                path = clip.frames.get(number)
                if path is None:
                    continue
                if self.released:
                    digest.update(f"{number}:{hashlib.sha256(path.read_bytes()).hexdigest()}|".encode())
                else:
                    stat = path.stat()
                    digest.update(f"{number}:{stat.st_size}:{stat.st_mtime_ns}|".encode())
        return digest.hexdigest()[:16]


def subject_of_key(key: str) -> str:
    """The subject of a clip key (:attr:`Clip.key`), as result files store clips."""
    return key.split("/", 1)[0]


def natural_key(text: str) -> tuple:
    """Sort "sub2" before "sub10"."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def normalize_label(text: str) -> str:
    """Case- and whitespace-tolerant form of a raw emotion string."""
    return " ".join(str(text).strip().lower().split())


@dataclass(frozen=True)
class ClassSet:
    """A named mapping from a dataset's raw emotion strings to class indices.

    ``mapping`` sends normalized raw labels to class names; ``excluded`` lists raw labels that
    are deliberately left out. Any other label is an error, so a typo in a sheet can never
    silently shift or drop samples.
    """

    name: str
    classes: tuple[str, ...]
    mapping: Mapping[str, str]
    excluded: tuple[str, ...] = ()
    reference_counts: Mapping[str, int] = field(default_factory=dict)
    reference_subjects: int | None = None
    source: str = ""

    def __post_init__(self) -> None:
        unknown = set(self.mapping.values()) - set(self.classes)
        if unknown:
            raise ValueError(f"class set {self.name}: mapping targets {unknown} are not classes")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def label_of(self, emotion: str, where: str = "") -> int | None:
        """Class index of a raw label, ``None`` if the class set leaves it out."""
        key = normalize_label(emotion)
        if key in self.mapping:
            return self.classes.index(self.mapping[key])
        if key in self.excluded:
            return None
        known = sorted(set(self.mapping) | set(self.excluded))
        raise DataError(
            f"{where + ': ' if where else ''}emotion '{emotion}' is not known to class set "
            f"{self.name} (known: {', '.join(known)}); fix the sheet or add it to the class set"
        )
