"""Imports go one way: data, protocols and metrics (``benchmarks/``), the registries and
result files (``leaderboard/``) never import the models, engine or runner (``zoo/``), so each
can be used and tested without them. The perf scripts under ``benchmarks/perf/`` are programs
on top of everything, like the CLI, and may import anything."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOWER = {"benchmarks": ("zoo",), "leaderboard": ("zoo",), "registry": ("zoo", "benchmarks", "leaderboard")}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(LOWER))
def test_lower_layers_import_nothing_above_them(package):
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & set(LOWER[package]))
        for path in (ROOT / package).rglob("*.py")
        if "perf" not in path.relative_to(ROOT).parts
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from zoo.models import create_model\n    import benchmarks.metrics\n")
    assert imported_packages(module) == {"zoo", "benchmarks"}
