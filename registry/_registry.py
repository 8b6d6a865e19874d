"""One typed registry mechanism for every kind of entry (timm's `_registry.py` in spirit).

An entry is a plain callable plus the facts a user needs before calling it: defaults,
citation, a one-line summary and free-form metadata (reference counts, parameter counts).
Entries are registered with a decorator at import time; :func:`registry.load_all` imports
every plugin package so that a fresh process always sees every entry.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Generic, Mapping, TypeVar

from registry.errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and what is known about it without calling it."""

    name: str
    kind: str
    obj: T
    summary: str = ""
    citation: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.obj(*args, **kwargs)  # type: ignore[operator]


class Registry(Generic[T]):
    """Name -> :class:`Entry` for one kind ("model", "dataset", ...)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str | None = None,
        *,
        summary: str | None = None,
        citation: str = "",
        defaults: Mapping[str, Any] | None = None,
        **meta: Any,
    ) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name`` (default: its ``__name__``).

        ``summary`` defaults to the first line of the object's docstring.
        """

        def decorate(obj: T) -> T:
            self.add(
                name or getattr(obj, "__name__"),
                obj,
                summary=summary,
                citation=citation,
                defaults=defaults,
                **meta,
            )
            return obj

        return decorate

    def add(
        self,
        name: str,
        obj: T,
        *,
        summary: str | None = None,
        citation: str = "",
        defaults: Mapping[str, Any] | None = None,
        **meta: Any,
    ) -> Entry[T]:
        """Register ``obj`` directly (for table-driven entries such as checkpoints)."""
        if name in self._entries:
            raise DuplicateNameError(f"{self.kind} '{name}' is registered twice")
        if summary is None:
            summary = ((getattr(obj, "__doc__", None) or "").strip().splitlines() or [""])[0]
        entry = Entry(
            name=name,
            kind=self.kind,
            obj=obj,
            summary=summary,
            citation=citation,
            defaults=MappingProxyType(dict(defaults or {})),
            meta=MappingProxyType(dict(meta)),
        )
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> Entry[T]:
        """The entry called ``name``; an :class:`UnknownNameError` with close matches if none."""
        from registry import load_all

        load_all()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.suggest(name)) from None

    def suggest(self, name: str, candidates: list[str] | None = None) -> list[str]:
        pool = candidates if candidates is not None else list(self._entries)
        lowered = {c.lower(): c for c in pool}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        prefix = [c for c in pool if c.lower().startswith(name.lower()) and c not in close]
        return [lowered[c] for c in close] + prefix[: 3 - len(close)]

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style glob."""
        from registry import load_all

        load_all()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        from registry import load_all

        load_all()
        return name in self._entries
