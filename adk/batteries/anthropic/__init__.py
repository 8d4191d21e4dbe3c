"""Anthropic Messages as a dispatch executor (extra ``anthropic``).

Uses the official ``anthropic`` SDK (``AsyncAnthropic``)::

    from adk.batteries.anthropic import AnthropicMessagesExecutor

    executor = AnthropicMessagesExecutor(model="claude-sonnet-4-5")
    runner = adk.TurnRunner(executor=executor, tools=[...])

Importing this module without the SDK raises ``E_EXTRA_MISSING`` whose ``help`` is
``pip install 'adk[anthropic]'``.
"""

from __future__ import annotations

try:
    import anthropic as _anthropic  # noqa: F401  # pyright: ignore[reportUnusedImport]
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    from adk.errors import extra_missing

    raise extra_missing("anthropic", "anthropic") from _exc

from adk.batteries._retry import RetryPolicy
from adk.batteries.anthropic._executor import (
    THINKING_REPLAY,
    AnthropicMessagesExecutor,
    render_anthropic,
    translate_error,
)

__all__ = [
    "THINKING_REPLAY",
    "AnthropicMessagesExecutor",
    "RetryPolicy",
    "render_anthropic",
    "translate_error",
]
