"""Field checks for model-visible text (``str | Tokenizable``) shared by the primitives."""

from __future__ import annotations

from typing import Any

from adk.primitives._base import MISSING, Errors
from adk.primitives.tokenizable import Tokenizable

__all__ = ["check_text", "check_text_emptyable"]


def check_text(value: Any, path: str, errors: Errors) -> Any:
    """``Tokenizable.schema``: a non-empty ``str`` (wrapped) or a Tokenizable instance."""
    if isinstance(value, Tokenizable):
        return value
    if type(value) is str:
        if value:
            return Tokenizable(value)
        errors.add(path, "must not be empty")
    elif value is MISSING:
        errors.add(path, "is required")
    else:
        errors.add(path, f"must be a string or Tokenizable, not {type(value).__name__}")
    return value


def check_text_emptyable(value: Any, path: str, errors: Errors) -> Any:
    """``Tokenizable.emptyableSchema``: like :func:`check_text` but ``""`` is allowed."""
    if type(value) is str:
        return Tokenizable(value)
    return check_text(value, path, errors)
