"""Published checkpoints, as a plain table (open_clip's ``pretrained.py`` in spirit).

Each row: name -> the model it initialises, where its weights live on the Hugging Face Hub,
pinned, and how they were trained::

    "miacnet-ma2mi-casme2": {
        "model": "miacnet",                  # registered model the weights initialise
        "repo": "ORG/NAME",                  # Hub repo id
        "revision": "<40-hex commit sha>",   # a commit, never a branch: rows do not move
        "file": "model.safetensors",         # safetensors file in the repo
        "sha256": "<64-hex digest>",         # a download with another digest is refused
        "license": "other",
        "summary": "...", "citation": "...",
    }

``--pretrained NAME`` and ``zoo pull NAME`` fetch the file into the Hugging Face cache and
check its digest; weights are only ever read with ``safetensors``, nothing is unpickled.
Rows are added when weights are published (none are yet). Rows whose checkpoint is made
locally on first use (``ma2mi-synth-macro``) are registered by their pre-trainer instead.
"""

from __future__ import annotations

import re

from registry import CHECKPOINTS
from registry.errors import ConfigError

PUBLISHED: dict[str, dict] = {}

REQUIRED = ("model", "repo", "revision", "file", "sha256", "license")
_FORMATS = {
    "repo": re.compile(r"[\w.-]+/[\w.-]+"),
    "revision": re.compile(r"[0-9a-f]{40}"),
    "file": re.compile(r"[\w./-]+\.safetensors"),
    "sha256": re.compile(r"[0-9a-f]{64}"),
}


def check_row(name: str, row: dict) -> dict:
    """``row`` if it has every field of the schema in the right form; else a ConfigError."""
    missing = [key for key in REQUIRED if not row.get(key)]
    malformed = [key for key, form in _FORMATS.items() if row.get(key) and not form.fullmatch(str(row[key]))]
    if missing or malformed or ".." in str(row.get("file", "")):
        raise ConfigError(
            f"checkpoint row '{name}': missing {missing or 'nothing'}, malformed {malformed or 'nothing'} "
            "(revision: a 40-hex commit sha; sha256: 64 hex; file: a .safetensors path)"
        )
    return row


def publish(name: str, row: dict) -> None:
    CHECKPOINTS.add(
        name, check_row(name, row), summary=row.get("summary", ""), citation=row.get("citation", "")
    )


for _name, _row in PUBLISHED.items():
    publish(_name, _row)
