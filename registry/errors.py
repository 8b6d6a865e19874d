"""Exception types shared by every stage of mer-zoo.

Every error a user can cause derives from :class:`ZooError`; the CLI prints its message as
one line and exits with status 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ZooError(Exception):
    """A problem the user can fix; the message says what is wrong and how to fix it."""


class UnknownNameError(ZooError, KeyError):
    """A name that is not in a registry."""

    def __init__(self, kind: str, name: str, suggestions: list[str]):
        self.kind, self.name, self.suggestions = kind, name, suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} '{name}'.{hint} Run `zoo list {kind}s` to see all.")

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class DuplicateNameError(ZooError):
    """Two entries registered under one name: a programming mistake caught at import."""


class ConfigError(ZooError):
    """An invalid option or value (non-positive epochs, unsupported class set, ...)."""


class DataError(ZooError):
    """A dataset on disk is missing, incomplete or malformed."""


class StorageError(ZooError):
    """A folder mer-zoo must write to is read-only or full."""


class LockedError(ZooError):
    """Another process holds the lock of a run (or cache) this process needs."""


class CheckpointError(ZooError):
    """A checkpoint does not fit the model it is loaded into."""


class ExecutorError(ZooError):
    """The executor asked for cannot run: Ray is not installed or its cluster cannot be reached."""


class FoldError(ZooError):
    """Folds of a run failed (raised, or their worker died); their tracebacks are saved and the
    finished folds kept, so running the same command again retries just the failed ones."""


class SweepError(ZooError):
    """Runs of a sweep failed; the others ran or were skipped, and a re-run retries just those."""
