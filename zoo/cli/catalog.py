"""``zoo list`` and ``zoo info``: what the registries hold."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

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
def info(
    name: str = typer.Argument(..., help="Name of any registered entry."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the entry as JSON (a list if NAME is in several registries)."
    ),
) -> None:
    """Show everything registered under NAME: summary, citation, defaults, metadata."""
    found = [(kind, reg.get(name)) for kind, reg in KINDS.items() if name in reg]
    if not found:
        pool = [n for reg in KINDS.values() for n in reg.names()]
        raise UnknownNameError("entry", name, KINDS["models"].suggest(name, pool))
    if as_json:
        entries = [entry_json(kind, entry) for kind, entry in found]
        typer.echo(json.dumps(entries[0] if len(entries) == 1 else entries, indent=1, default=_plain))
        return
    for kind, entry in found:
        table = Table(title=f"{kind[:-1] if kind.endswith('s') else kind}: {name}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("summary", entry.summary)
        if entry.citation:
            table.add_row("citation", entry.citation)
        for key, value in {**entry.defaults, **entry.meta}.items():
            if key == "reported":
                table.add_row(key, "\n".join(reported_line(r) for r in value))
            elif not callable(value):
                table.add_row(key, str(value))
        for key, value in describe(kind, entry).items():
            table.add_row(key, value)
        console.print(table)


def reported_line(row) -> str:
    """One published figure set on one line, e.g. ``megc2019/smic megc2019-3 loso: UF1 0.680 ...``."""
    figures = ", ".join(f"{name} {getattr(row, name.lower()):.3f}" for name in ("UF1", "UAR", "accuracy")
                        if getattr(row, name.lower()) is not None)
    where = row.dataset + (f"/{row.part}" if row.part else "")
    return f"{where} {row.class_set} {row.protocol}: {figures} ({row.variant}; epoch: {row.selection})"


def _plain(value):
    """JSON form of registry values that are not JSON types: dataclasses, callables, others."""
    if is_dataclass(value) and not isinstance(value, type):
        return value.describe() if hasattr(value, "describe") else asdict(value)
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return str(value)


def entry_json(kind: str, entry) -> dict:
    """What ``zoo info --json`` prints for one entry. A model's ``num_parameters`` is for its
    meta ``default_classes`` (5 if it registered none)."""
    out = {"name": entry.name, "kind": kind[:-1] if kind.endswith("s") else kind, "summary": entry.summary,
           "citation": entry.citation, "defaults": dict(entry.defaults)}
    if kind != "models":
        return {**out, "meta": dict(entry.meta)}
    from registry.options import model_options
    from zoo.models import count_parameters, create_model

    classes = entry.meta.get("default_classes", 5)
    model = create_model(entry.name, classes)
    return {
        **out,
        "default_sources": dict(entry.meta.get("default_sources", {})),
        "options": model_options(entry.name),
        "num_classes": classes,
        "num_parameters": count_parameters(model),
        "inputs": model.inputs.describe(),
        "reported": [row.to_dict() for row in entry.meta.get("reported", ())],
    }


def describe(kind: str, entry) -> dict[str, str]:
    """Facts computed from the entry itself (model size, class set contents)."""
    if kind == "models":
        from registry.options import model_options
        from zoo.models import count_parameters, create_model, forward_flops

        classes = entry.meta.get("default_classes", 5)
        model = create_model(entry.name, classes)
        size = model.inputs.size or entry.defaults.get("input_size", 112)
        return {"options": str(model_options(entry.name)),
                f"parameters ({classes} classes)": f"{count_parameters(model):,}",
                f"FLOPs per clip ({size} px)": f"{forward_flops(model, size) / 1e9:.2f} G",
                "inputs": ", ".join(f"{k}={v}" for k, v in model.inputs.describe().items() if v)}
    if kind == "classes":
        cs = entry.obj
        return {"classes": ", ".join(cs.classes), "excluded labels": ", ".join(cs.excluded),
                "reference counts": str(dict(cs.reference_counts))}
    return {}
