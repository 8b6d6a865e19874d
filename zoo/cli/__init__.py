"""The ``zoo`` command line. Each module of this package adds its commands to ``app``.

User mistakes raise :class:`registry.errors.ZooError`; :func:`main` prints them as one line
on stderr and exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

from registry.errors import ZooError

app = typer.Typer(
    name="zoo",
    help="mer-zoo: benchmark and model zoo for micro-expression recognition.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except ZooError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)  # brackets in a message are text, not markup
        sys.exit(2)
    except typer.Abort:
        errors.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)
