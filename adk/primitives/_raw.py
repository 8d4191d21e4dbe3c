"""Raw snapshot handling: the ADK's camelCase keys and our snake_case ones."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from adk.errors import FieldError

__all__ = ["camel_to_snake", "snake_keys"]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_cache: dict[str, str] = {}


def camel_to_snake(name: str) -> str:
    """``createdAt`` → ``created_at``; snake_case names are returned unchanged."""
    out = _cache.get(name)
    if out is None:
        out = _cache[name] = _CAMEL.sub("_", name).lower() if not name.islower() else name
    return out


def snake_keys(raw: Mapping[str, Any], cls: type[Any]) -> dict[str, Any]:
    """Copy ``raw`` with camelCase keys renamed to snake_case.

    Raises:
        The class's ``E_INVALID_INITIAL_<X>_VALUE`` if ``raw`` is not a mapping with
        string keys.
    """
    if not isinstance(cast(object, raw), Mapping):
        cls._fail([FieldError("*", f"must be a mapping, not {type(raw).__name__}")])
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if type(k) is not str:
            cls._fail([FieldError(repr(k), "keys must be strings")])
        out[camel_to_snake(k)] = v
    return out
