"""A registered model's options: its builder's keyword defaults, with command-line values
coerced to their types. Here, not in ``zoo.models``, because the leaderboard and the hub
need a model's options without building (or importing) any network.
"""

from __future__ import annotations

import inspect
from typing import Any

from registry import MODELS
from registry.errors import ConfigError


def model_options(name: str, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The builder's options with ``given`` applied; an unknown option is an error."""
    builder = MODELS.get(name).obj
    parameters = inspect.signature(builder).parameters
    options = {
        key: p.default
        for key, p in parameters.items()
        if key != "num_classes" and p.default is not inspect.Parameter.empty
    }
    for key, value in (given or {}).items():
        if key not in options:
            raise ConfigError(f"model '{name}' has no option '{key}'; its options are: {', '.join(options)}")
        options[key] = coerce_option(value, options[key], key)
    return options


def coerce_option(value: Any, default: Any, key: str) -> Any:
    """Turn a command-line string into the type of the option's default."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return type(default)(value)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}.get(type(default), type(default).__name__)
        raise ConfigError(f"option {key}={value}: expected {kind}") from None
