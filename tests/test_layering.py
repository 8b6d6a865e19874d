"""Imports go one way, down the layers, with no exception.

Between packages: the registries (``registry/``) import no other package; data, protocols and
metrics (``benchmarks/``) and the results store (``leaderboard/``) never import ``zoo/``; the
evidence programs (``experiments/``) sit above everything, like the CLI, and nothing imports
them. Inside ``zoo/``: low-level services (``zoo.io``: checkpoint files, the Hub client), then
backbones, models, the training engine, publication on the Hub, pre-training, the benchmark
runner, and the CLI and Python API on top; a layer imports only itself and layers below it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("registry", "benchmarks", "leaderboard", "zoo", "experiments")
FORBIDDEN = {
    "registry": {"benchmarks", "leaderboard", "zoo", "experiments"},
    "benchmarks": {"leaderboard", "zoo", "experiments"},
    "leaderboard": {"zoo", "experiments"},
    "zoo": {"experiments"},
    "experiments": set(),
}
ZOO_LAYERS = ("io", "backbones", "models", "engine", "hub", "pretrain", "bench", "cli")  # bottom first


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def zoo_layer(module: str) -> int | None:
    """The layer of a ``zoo.<sub>...`` module (``zoo`` itself, the Python API, is the top)."""
    parts = module.split(".")
    if parts[0] != "zoo":
        return None
    if len(parts) == 1:
        return len(ZOO_LAYERS)
    return ZOO_LAYERS.index(parts[1]) if parts[1] in ZOO_LAYERS else None


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_nothing_above_them(package):
    offending = {
        str(path.relative_to(ROOT)): sorted({m.split(".")[0] for m in imported_modules(path)} & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_every_zoo_subpackage_has_a_layer():
    subpackages = {p.name for p in (ROOT / "zoo").iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(ZOO_LAYERS)


def test_zoo_layers_import_only_themselves_and_layers_below():
    offending = {}
    for path in (ROOT / "zoo").rglob("*.py"):
        relative = path.relative_to(ROOT / "zoo")
        own = len(ZOO_LAYERS) if len(relative.parts) == 1 else ZOO_LAYERS.index(relative.parts[0])
        above = sorted(m for m in imported_modules(path) if (zoo_layer(m) or 0) > own)
        if above:
            offending[str(path.relative_to(ROOT))] = above
    assert offending == {}


def test_the_check_sees_imports_inside_functions_and_from_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from zoo.models import create_model\n    import benchmarks.metrics\n"
                      "from zoo import bench\n")
    found = imported_modules(module)
    assert {"zoo.models", "benchmarks.metrics", "zoo.bench"} <= found
    assert zoo_layer("zoo.bench") > zoo_layer("zoo.models") > zoo_layer("zoo.io")
