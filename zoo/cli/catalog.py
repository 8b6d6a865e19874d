"""``zoo list`` and ``zoo info``: what the registries hold."""

from __future__ import annotations

import typer
from rich.table import Table

from registry import KINDS, UnknownNameError
from zoo.backbones import timm_names
from zoo.cli import app, console


@app.command("list")
def list_entries(
    kind: str = typer.Argument(..., help=f"One of: {', '.join(KINDS)}."),
    pattern: str = typer.Argument("*", help="Shell-style filter, e.g. 'resnet*'."),
) -> None:
    """List registered entries of one kind."""
    if kind not in KINDS:
        raise UnknownNameError("kind", kind, [k for k in KINDS if k.startswith(kind[:2])])
    registry = KINDS[kind]
    table = Table(title=kind)
    table.add_column("name")
    table.add_column("summary")
    for name in registry.names(pattern):
        table.add_row(name, registry.get(name).summary)
    console.print(table)
    if kind == "backbones":
        matches = timm_names(pattern)
        shown = ", ".join(matches[:12]) + (" ..." if len(matches) > 12 else "")
        console.print(f"plus {len(matches)} timm models matching '{pattern}': {shown}")


@app.command()
def info(name: str = typer.Argument(..., help="Name of any registered entry.")) -> None:
    """Show everything registered under NAME: summary, citation, defaults, metadata."""
    found = [(kind, reg.get(name)) for kind, reg in KINDS.items() if name in reg]
    if not found:
        pool = [n for reg in KINDS.values() for n in reg.names()]
        raise UnknownNameError("entry", name, KINDS["models"].suggest(name, pool))
    for kind, entry in found:
        table = Table(title=f"{kind[:-1] if kind.endswith('s') else kind}: {name}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("summary", entry.summary)
        if entry.citation:
            table.add_row("citation", entry.citation)
        for key, value in {**entry.defaults, **entry.meta}.items():
            if not callable(value):
                table.add_row(key, str(value))
        for key, value in describe(kind, entry).items():
            table.add_row(key, value)
        console.print(table)


def describe(kind: str, entry) -> dict[str, str]:
    """Facts computed from the entry itself (model size, class set contents)."""
    if kind == "models":
        from zoo.models import count_parameters, create_model, forward_flops, model_options

        model = create_model(entry.name, 5)
        size = entry.defaults.get("input_size", 112)
        return {"options": str(model_options(entry.name)),
                "parameters (5 classes)": f"{count_parameters(model):,}",
                f"FLOPs per clip ({size} px)": f"{forward_flops(model, size) / 1e9:.2f} G",
                "inputs": ", ".join(model.inputs.keys)}
    if kind == "classes":
        cs = entry.obj
        return {"classes": ", ".join(cs.classes), "excluded labels": ", ".join(cs.excluded),
                "reference counts": str(dict(cs.reference_counts))}
    return {}
