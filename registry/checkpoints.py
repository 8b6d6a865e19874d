"""Published checkpoints, as a plain table (open_clip's ``pretrained.py`` in spirit).

Each row: name -> model it initialises, where the weights live (a Hub repo and file), how
they were trained, and licence. Weights are safetensors files and are only ever read with
``safetensors``; nothing is unpickled. Rows are added when weights are published.
"""

from __future__ import annotations

from registry import CHECKPOINTS

PUBLISHED: dict[str, dict] = {}

for _name, _row in PUBLISHED.items():
    CHECKPOINTS.add(_name, _row, summary=_row.get("summary", ""), citation=_row.get("citation", ""))
