"""The supported torch range: the oldest set CI tests (.ci/run) is pyproject's floors, so
lowering a floor without testing it fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_oldest_set_ci_tests_is_pyprojects_floors():
    pyproject = (ROOT / "pyproject.toml").read_text()
    constraints = (ROOT / ".ci" / "oldest-constraints.txt").read_text()
    pins = dict(re.findall(r"^([\w-]+)==([\d.]+)$", constraints, re.MULTILINE))
    assert set(pins) == {"torch", "torchvision", "timm"}
    for name, pinned in pins.items():
        floor = re.search(rf'"{name}>=([\d.]+),<', pyproject).group(1).split(".")
        assert pinned.split(".")[: len(floor)] == floor, (name, pinned, floor)  # 2.4.1 is a 2.4
